"""Asperion sales orders → WooCommerce orders (mappings.md, "After booking", reverse direction): the order keeps its
VAT treatment, fees stay fees, the payment method is set, and its totals equal the Asperion order's to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from engine.db import Database
from sandbox.asperion.debtors import create_debtor
from sandbox.asperion.salesorders import create_sales_order
from tests.sandbox.server import SandboxURL
from tests.templates.conftest import D
from tests.templates.sandbox_runs import run_template, tenant, woo_orders

pytestmark = pytest.mark.slow


def _asperion(store: SandboxURL) -> Any:
    assert store.app.asperion is not None
    return store.app.asperion


def _debtor(store: SandboxURL, **fields: Any) -> str:
    body = {"countryCode": "NL", "debtorKindId": "B2C", **fields}
    made = create_debtor(tenant(store), _asperion(store).counters, body, _asperion(store).now(), validate_only=False)
    return str(made["customerNumber"])


def _article(store: SandboxURL, tax_class: str) -> dict[str, Any]:
    woo = store.app.woo
    skus = {p["sku"] for pid in woo.products.ids() if (p := woo.products.get(pid)) and p["type"] == "simple"
            and p.get("sku") and p["tax_class"] == tax_class and p["status"] == "publish"}  # fmt: skip
    return next(a for a in tenant(store).articles.values() if a["code"] in skus)


def _sales_order(store: SandboxURL, customer: str, description: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    body = {
        "debtorCustomerNumber": customer,
        "date": "2026-11-20",
        "description": description,
        "lines": {"_data": lines},
    }
    return create_sales_order(tenant(store), _asperion(store).counters, body, validate_only=False)


def _incl_vat(order: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """The sales order's net and VAT as Asperion books them: per line, rounded half up."""
    percentages = {code: D(v["percentage"]) for code, v in tenant(order["_store"]).vat_codes.items()}
    net = sum((D(line["amount"]) for line in order["lines"]), Decimal(0))
    vat = sum(
        (
            (D(line["amount"]) * percentages[line["vatCode"]] / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
            for line in order["lines"]
        ),
        Decimal(0),
    )
    return net, vat


def _meta(order: dict[str, Any], key: str) -> Any:
    return next((m["value"] for m in order["meta_data"] if m["key"] == key), None)


async def test_sales_orders_come_back_with_their_vat_treatment_fees_and_totals(db: Database, store: SandboxURL) -> None:
    standard, reduced = _article(store, ""), _article(store, "reduced-rate")
    shipping = next(a for a in tenant(store).articles.values() if a["code"] == "VERZEND")
    consumer = _debtor(store, name="Eva de Vries", emailAddress="eva.devries@example.nl", city="Utrecht")
    domestic = _sales_order(
        store,
        consumer,
        "Telefonische bestelling Eva",
        [
            {"articleId": standard["id"], "quantity": 2},
            {"articleId": reduced["id"], "quantity": 3},
            {"articleId": shipping["id"], "quantity": 1, "unitPrice": D("4.09"), "description": "PostNL"},
            # A fee booked with the shipping article on a revenue account: it stays a fee.
            {"articleId": shipping["id"], "quantity": 1, "unitPrice": D("2.07"), "ledgerAccountId": 8000,
             "vatCode": "H21", "description": "Rembourskosten"},
        ],
    )  # fmt: skip
    business = _debtor(
        store,
        name="Müller Handel GmbH",
        attentionTo="Jürgen Müller",
        emailAddress="einkauf@mueller-handel.example.de",
        countryCode="DE",
        city="Köln",
        vatNumber="DE123456789",
        debtorKindId="B2B-EU",
    )
    reverse_charge = _sales_order(
        store,
        business,
        "Bestelling Müller per mail",
        [
            {"articleId": standard["id"], "quantity": 10, "vatCode": "ICP", "ledgerAccountId": 8100},
            {
                "articleId": shipping["id"],
                "quantity": 1,
                "unitPrice": D("12.40"),
                "vatCode": "ICP",
                "description": "DHL",
            },
        ],
    )
    # The article is reduced-rate in the shop but booked at 21 % here: WooCommerce would charge 9 %.
    other = _debtor(store, name="Sem Bakker", emailAddress="sem.bakker@example.nl", city="Zwolle")
    mismatch = _sales_order(
        store, other, "Verkeerde btw", [{"articleId": reduced["id"], "quantity": 1, "vatCode": "H21"}]
    )
    before = {o["id"] for o in woo_orders(store)}

    counts, problems = await run_template(db, "asperion-orders-to-woocommerce", store)
    assert counts["failed"] == 1, problems
    (problem,) = problems
    assert f"sales order {mismatch['orderNumber']} would not become the same WooCommerce order" in problem
    assert "Asperion H21 21% =" in problem and "WooCommerce 9% (NL)" in problem

    made = {int(_meta(o, "_asperion_order_id")): o for o in woo_orders(store) if o["id"] not in before}
    assert set(made) == {domestic["id"], reverse_charge["id"]}  # nothing half-made for the refused one

    order = made[domestic["id"]]
    domestic["_store"] = store
    net, vat = _incl_vat(domestic)
    assert (D(order["total"]) - D(order["total_tax"]), D(order["total_tax"]), D(order["total"])) == (
        net,
        vat,
        net + vat,
    )
    assert [(s["method_title"], D(s["total"])) for s in order["shipping_lines"]] == [("PostNL", D("4.09"))]
    assert [(f["name"], D(f["total"]), D(f["total_tax"])) for f in order["fee_lines"]] == [
        ("Rembourskosten", D("2.07"), D("0.43"))
    ]
    assert order["payment_method"] == "bacs" and order["payment_method_title"]

    order = made[reverse_charge["id"]]
    reverse_charge["_store"] = store
    net, vat = _incl_vat(reverse_charge)
    assert vat == 0 and D(order["total_tax"]) == 0 and D(order["total"]) == net
    assert _meta(order, "_billing_vat_number") == "DE123456789" and _meta(order, "is_vat_exempt") == "yes"
    assert order["billing"]["company"] == "Müller Handel GmbH" and order["billing"]["country"] == "DE"
    assert [s["method_title"] for s in order["shipping_lines"]] == ["DHL"] and not order["fee_lines"]
