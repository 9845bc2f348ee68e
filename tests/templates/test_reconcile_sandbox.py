"""Reconciliation on the sandbox: a simulated shop booked by the templates is balanced; an invoice deleted by hand in
Asperion shows its order as not booked; ``koppel reconcile`` answers with the contract's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.db import Database
from engine.reconcile_run import reconcile
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.sandbox_runs import connections, run_template, tenant, woo_orders

pytestmark = pytest.mark.slow

FEE_KEYS = ("_stripe_fee", "_stripe_net", "PayPal Transaction Fee")
# The features that the booking flows learn on the `books` branch (corrections, cancellations, currencies, refunds
# paid back, provider fees) are switched off here, so this test shows the reconciliation on the flows of this branch.
QUIET_LIFE = {"days": 4, "seed": 5, "orders_per_day": 8, "edit_rate": 0, "cancel_rate": 0, "refund_rate": 0,
              "foreign_rate": 0}  # fmt: skip


@pytest.fixture(name="shop")
def fx_shop() -> Iterator[SandboxURL]:
    with running_sandbox(customers=20, products=15, seed=3) as url:
        yield url


def simulate(shop: SandboxURL) -> tuple[str, str]:
    done = httpx.post(f"{shop}/_sandbox/simulate", json=QUIET_LIFE, timeout=60).json()
    assert done["status"] == "simulated" and done["orders"] > 0, done
    for order in woo_orders(shop):
        order["meta_data"] = [m for m in order["meta_data"] if m.get("key") not in FEE_KEYS]
        shop.app.woo.orders.put(order)
    return str(done["from"])[:10], str(done["to"])[:10]


def koppel(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [str(Path(sys.executable).with_name("koppel")), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


async def test_a_booked_shop_is_balanced_and_a_deleted_invoice_shows_its_order(
    db: Database, sqlite_url: str, shop: SandboxURL, tmp_path: Path
) -> None:
    first, last = simulate(shop)
    for name in ("orders-to-sales-invoices", "payments-to-financial-mutations"):
        counts, problems = await run_template(db, name, shop)
        assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    report = await reconcile(db, connections(shop), first, last, from_file=True)
    assert report.balanced, [d.as_dict() for d in report.differences]
    assert report.orders > 10 and report.rates
    for rate in report.rates:
        assert (rate.books_net, rate.books_vat) == (rate.shop_net, rate.shop_vat), rate

    conn_file = tmp_path / "conn.json"
    conn_file.write_text(json.dumps(connections(shop)))
    balanced = koppel("reconcile", "--connections", str(conn_file), "--from", first, "--to", last, "--json",
                      database_url=sqlite_url)  # fmt: skip
    assert balanced.returncode == 0, balanced.stderr
    assert json.loads(balanced.stdout)["balanced"] is True

    administration = tenant(shop)
    victim: dict[str, Any] = next(
        inv for inv in administration.invoices.values() if str(inv["description"]).startswith("WooCommerce order ")
    )
    number = str(victim["description"]).removeprefix("WooCommerce order ")
    del administration.invoices[victim["id"]]  # what a bookkeeper deleting it by hand in Asperion leaves

    report = await reconcile(db, connections(shop), first, last, from_file=True)
    missing = [d for d in report.differences if d.kind == "not_booked"]
    order_id = next(o["id"] for o in woo_orders(shop) if str(o["number"]) == number)
    assert [(d.order_number, d.order_id) for d in missing] == [(number, order_id)]
    assert {d.kind for d in report.differences} <= {"not_booked", "rate_total"}

    unbalanced = koppel("reconcile", "--connections", str(conn_file), "--from", first, "--to", last,
                        database_url=sqlite_url)  # fmt: skip
    assert unbalanced.returncode == 1, unbalanced.stderr
    assert f"order not booked — order {number}" in unbalanced.stdout


def test_reconcile_refuses_bad_dates_and_connections(tmp_path: Path, sqlite_url: str) -> None:
    conn_file = tmp_path / "conn.json"
    conn_file.write_text(json.dumps(connections("http://127.0.0.1:9")))
    bad_date = koppel("reconcile", "--connections", str(conn_file), "--from", "2026-13-01", "--to", "2026-12-01",
                      database_url=sqlite_url)  # fmt: skip
    assert bad_date.returncode == 2 and 'the from date "2026-13-01" is not a date' in bad_date.stderr
    backwards = koppel("reconcile", "--connections", str(conn_file), "--from", "2026-12-02", "--to", "2026-12-01",
                       database_url=sqlite_url)  # fmt: skip
    assert backwards.returncode == 2 and "ends (2026-12-01) before it starts" in backwards.stderr
    only_shop = tmp_path / "shop.json"
    only_shop.write_text(json.dumps({"woocommerce": connections("http://127.0.0.1:9")["woocommerce"]}))
    no_books = koppel("reconcile", "--connections", str(only_shop), "--from", "2026-12-01", "--to", "2026-12-01",
                      database_url=sqlite_url)  # fmt: skip
    assert no_books.returncode == 2 and "no asperion connection" in no_books.stderr
    missing = koppel("reconcile", "--connections", str(tmp_path / "nope.json"), "--from", "2026-12-01", "--to",
                     "2026-12-01", database_url=sqlite_url)  # fmt: skip
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    unreachable = koppel("reconcile", "--connections", str(conn_file), "--from", "2026-12-01", "--to", "2026-12-01",
                         database_url=sqlite_url)  # fmt: skip
    assert unreachable.returncode == 2 and "could not read the shop or the books" in unreachable.stderr
