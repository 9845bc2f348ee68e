"""Running templates against the sandbox, and the expectation computed from WooCommerce data alone."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from engine.db import Database
from engine.models import LogEntry
from engine.service import create_run, execute_run
from engine.templates import get_template
from nodes.accounting import EU_MEMBERS
from sandbox.credentials import (
    ASPERION_CLIENT_ID,
    ASPERION_CLIENT_SECRET,
    ASPERION_DEFAULT_TENANT,
    ASPERION_INITIAL_REFRESH_TOKEN,
    WOO_RW_KEY,
    WOO_RW_SECRET,
)
from tests.sandbox.server import SandboxURL
from tests.templates.conftest import D

BOOKED_STATUSES = {"processing", "completed"}
VAT_NUMBER_KEYS = ("_billing_vat_number", "_vat_number", "_billing_vat", "billing_eu_vat_number", "vat_number")


def connections(base: str) -> dict[str, Any]:
    return {
        "woocommerce": {"app": "woocommerce", "url": f"{base}/woocommerce", "consumer_key": WOO_RW_KEY,
                        "consumer_secret": WOO_RW_SECRET},
        "asperion": {"app": "asperion", "url": f"{base}/asperion", "identity_url": f"{base}/asperion",
                     "client_id": ASPERION_CLIENT_ID, "client_secret": ASPERION_CLIENT_SECRET,
                     "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN, "tenant_id": ASPERION_DEFAULT_TENANT},
    }  # fmt: skip


async def run_template(
    db: Database, name: str, base: str, *, document: dict[str, Any] | None = None, **params: Any
) -> tuple[dict[str, int], list[str]]:
    """Run a template (or a changed copy) to the end; its counts and the log lines of records that failed or wait."""
    document = document or get_template(name)
    run = await create_run(db, document=document, trigger="test", params=params, connections=connections(base))
    finished = await execute_run(db, run.id)
    assert finished is not None
    async with db.session() as session:
        rows = await session.execute(
            select(LogEntry).where(LogEntry.run_id == run.id, LogEntry.status.in_(("failed", "waiting")))
        )
        problems = [f"{row.node_id} {row.source_id}: {row.status} {row.message}" for row in rows.scalars()]
    counts: dict[str, int] = finished.counts()
    return counts, problems


def cases(order: dict[str, Any]) -> set[str]:
    """The named cases of the templates issue that an order shows."""
    country = order["shipping"].get("country") or order["billing"]["country"]
    found = {
        "b2b-eu-with-vat-number": region(country) == "eu" and bool(vat_number(order)),
        "oss-consumer": region(country) == "eu" and not vat_number(order) and not order["billing"].get("company"),
        "export": region(country) == "world",
        "guest": not order.get("customer_id"),
        "coupon": bool(order["coupon_lines"]),
        "fee": bool(order["fee_lines"]),
        "negative-fee": any(D(f["total"]) < 0 for f in order["fee_lines"]),
        "free-shipping": any(s["method_id"].startswith("free_shipping") for s in order["shipping_lines"]),
        "refund": bool(order.get("refunds")),
        "variation": any(item.get("variation_id") for item in order["line_items"]),
        "html": any("<" in item["name"] or "&" in item["name"] for item in order["line_items"]),
        "non-ascii": any(any(ord(ch) > 127 for ch in item["name"]) for item in order["line_items"]),
    }
    return {name for name, present in found.items() if present}


ESSENTIAL_CASES = {
    "b2b-eu-with-vat-number", "oss-consumer", "export", "guest", "coupon", "fee", "free-shipping", "refund",
    "variation", "html", "non-ascii",
}  # fmt: skip


def woo_orders(sandbox: SandboxURL) -> list[dict[str, Any]]:
    woo = sandbox.app.woo
    return [order for oid in woo.orders.ids() if (order := woo.orders.get(oid)) is not None]


def tenant(sandbox: SandboxURL) -> Any:
    assert sandbox.app.asperion is not None
    return sandbox.app.asperion.tenants[ASPERION_DEFAULT_TENANT]


def articles_now(sandbox: SandboxURL) -> dict[str, dict[str, Any]]:
    return {str(a["code"]).lower(): a for a in tenant(sandbox).articles.values()}


def lines_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    lines = document.get("lines") or []
    return list(lines.get("_data") or []) if isinstance(lines, dict) else list(lines)


def by_description(items: Any) -> dict[str, dict[str, Any]]:
    return {str(item["description"]): item for item in items}


# -- the expectation, from WooCommerce data only ------------------------------------------------------------------


def region(country: str) -> str:
    return "domestic" if country in ("", "NL") else "eu" if country in EU_MEMBERS else "world"


def vat_number(order: dict[str, Any]) -> str:
    values = {m["key"]: str(m.get("value") or "").strip() for m in order.get("meta_data") or []}
    return next((values[key] for key in VAT_NUMBER_KEYS if values.get(key)), "")


def expected_code(order: dict[str, Any], line: dict[str, Any]) -> str:
    rates = {t["rate_id"]: D(t["rate_percent"]) for t in order.get("tax_lines") or []}
    rate = sum((rates[t["id"]] for t in line.get("taxes") or []), Decimal(0))
    if line.get("tax_status") == "none" or (not D(line["total"]) and not D(line["total_tax"])):
        rate = Decimal(0)  # untaxed, or a line of €0.00 (free shipping): the zero code of its region
    text = format(rate.normalize(), "f")
    country = order["shipping"].get("country") or order["billing"]["country"]
    domestic = {"21": "H21", "9": "L9", "0": "N0"}
    where = region(country)
    if where == "domestic" or (where == "world" and rate):
        return domestic[text]
    if where == "world":
        return "EXP"
    if not rate:
        return "ICP" if vat_number(order) else "N0"
    return f"OSS-{country}-{text}"


def expected_lines(order: dict[str, Any]) -> list[tuple[Decimal, Decimal, str, int]]:
    """(amount, VAT, VAT code, revenue account) per line."""
    country = order["shipping"].get("country") or order["billing"]["country"]
    revenue = {"domestic": 8000, "eu": 8100, "world": 8200}[region(country)]
    lines = [(D(i["total"]), D(i["total_tax"]), expected_code(order, i), revenue) for i in order["line_items"]]
    for item in order["shipping_lines"]:
        if D(item["total"]) or item["method_id"].startswith("free_shipping"):
            lines.append((D(item["total"]), D(item["total_tax"]), expected_code(order, item), 8300))
    lines.extend((D(i["total"]), D(i["total_tax"]), expected_code(order, i), revenue) for i in order["fee_lines"])
    return lines


def expected_debtor_kind(order: dict[str, Any]) -> str | None:
    """None: the default debtor (guests)."""
    if not order.get("customer_id") and not (order["billing"].get("company") and vat_number(order)):
        return None  # a guest on the default debtor; a business guest (company + VAT number) gets its own
    business = bool(order["billing"].get("company") or vat_number(order))
    if not business:
        return "B2C"
    return {"domestic": "B2B-NL", "eu": "B2B-EU", "world": "B2B-WORLD"}[region(order["billing"]["country"])]


def booked_lines(invoice: dict[str, Any]) -> list[tuple[Decimal, Decimal, str, int]]:
    return [(D(x["amount"]), D(x["vatAmount"]), x["vatCode"], int(x["ledgerAccountId"])) for x in lines_of(invoice)]


def totals(lines: list[tuple[Decimal, Decimal, str, int]]) -> tuple[Decimal, Decimal]:
    return sum((x[0] for x in lines), Decimal(0)), sum((x[1] for x in lines), Decimal(0))


# -- tests --------------------------------------------------------------------------------------------------------
