"""Fixtures for the template tests: the WooCommerce fixture orders, and an expectation computed from an order alone."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.server import SandboxURL, running_sandbox

FIXTURES = Path(__file__).parent / "fixtures"
"""Copies of the shared WooCommerce fixtures (``../shared/fixtures/woocommerce``), kept equal by a test."""
SHARED_FIXTURES = Path("/work/shared/fixtures/woocommerce")
ORDER_FIXTURES = (
    "order-example-1",
    "order-create-response-1",
    "order-synthetic-b2b-eur-coupon-fee-multitax-refund",
    "webhook-order-created-1",
    "list-orders-page",
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def fixture_orders() -> dict[str, dict[str, Any]]:
    """Every order fixture by a readable name."""
    orders = {
        "order-example-1": load("order-example-1"),
        "order-create-response-1": load("order-create-response-1"),
        "synthetic-b2b-eu": load("order-synthetic-b2b-eur-coupon-fee-multitax-refund"),
        "webhook-order-created-1": load("webhook-order-created-1"),
    }
    for item in load("list-orders-page"):
        orders[f"list-orders-page-{item['id']}"] = item
    return orders


def D(value: Any) -> Decimal:
    return Decimal(str(value))


def expected_totals(order: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    """WooCommerce's own totals: ex VAT, VAT, incl VAT."""
    return D(order["total"]) - D(order["total_tax"]), D(order["total_tax"]), D(order["total"])


def expected_lines(order: dict[str, Any]) -> list[tuple[Decimal, Decimal]]:
    """(amount, VAT) per line as WooCommerce has them: products at their net total, non-zero shipping, fees."""
    lines = [(D(item["total"]), D(item["total_tax"])) for item in order["line_items"]]
    for item in order["shipping_lines"]:
        if D(item["total"]) or item["method_id"].startswith("free_shipping"):
            lines.append((D(item["total"]), D(item["total_tax"])))
    lines.extend((D(item["total"]), D(item["total_tax"])) for item in order["fee_lines"])
    return lines


@pytest.fixture(name="orders")
def fx_orders() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(fixture_orders())


@pytest.fixture(name="b2b")
def fx_b2b() -> dict[str, Any]:
    return copy.deepcopy(load("order-synthetic-b2b-eur-coupon-fee-multitax-refund"))


@pytest.fixture(name="store")
def fx_store(request: pytest.FixtureRequest) -> Iterator[SandboxURL]:
    seed = getattr(request, "param", 7)
    with running_sandbox(orders=80, customers=20, products=15, seed=seed) as url:
        yield url
