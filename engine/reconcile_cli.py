"""``koppel reconcile``: one period of a connections file's shop compared with its books, as text or JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.reconcile import Difference, Report

__all__ = ("KIND_TEXT", "describe", "run_reconcile")

EXIT_BALANCED, EXIT_DIFFERENCES, EXIT_BAD_INPUT = 0, 1, 2

KIND_TEXT: dict[str, str] = {
    "not_booked": "order not booked",
    "booked_twice": "order booked more than once",
    "not_credited": "order cancelled in the shop, its booking not credited",
    "booked_unexpected": "order booked, but the shop has it as not sold",
    "amounts_differ": "booked amounts differ from the shop's",
    "no_rate": "foreign-currency order without an exchange rate",
    "payment_missing": "payment not booked",
    "payment_twice": "payment booked more than once",
    "payment_unpaid": "payment booked for an order the shop has as unpaid",
    "payment_differs": "paid amount differs",
    "open_credit": "credit invoice open: refund paid back not booked",
    "fee_differs": "payment provider's fee differs",
    "rate_total": "total of a VAT rate differs",
}
"""Each kind of difference in plain English (the page shows the same sentences translated)."""


def describe(difference: Difference) -> str:
    """One line for a difference: what, which order, shop vs books, the records behind it."""
    parts = [KIND_TEXT.get(difference.kind, difference.kind)]
    if difference.order_number:
        parts.append(f"order {difference.order_number}")
    if difference.kind == "rate_total":
        parts.append(f"rate {difference.detail} %")
    if difference.shop is not None or difference.books is not None:
        shop = "–" if difference.shop is None else f"{difference.shop:.2f}"
        books = "–" if difference.books is None else f"{difference.books:.2f}"
        parts.append(f"shop {shop}, books {books}")
    if difference.invoice_ids:
        parts.append("invoice " + ", ".join(str(i) for i in difference.invoice_ids))
    if difference.entry_ids:
        parts.append("entry " + ", ".join(str(i) for i in difference.entry_ids))
    return " — ".join(parts)


def _text(report: Report) -> str:
    head = "balanced" if report.balanced else f"{len(report.differences)} differences"
    lines = [f"{report.period_from} to {report.period_to}: {report.orders} orders, {head}"]
    for rate in report.rates:
        lines.append(
            f"  VAT {rate.rate} %: shop {rate.shop_net:.2f} + {rate.shop_vat:.2f} VAT, "
            f"books {rate.books_net:.2f} + {rate.books_vat:.2f} VAT"
        )
    lines.append(f"  provider fees: shop {report.fees_shop:.2f}, books {report.fees_books:.2f}")
    lines.append(f"  clearing account: expected {report.clearing_expected:.2f}, books {report.clearing_books:.2f}")
    lines.extend(f"  {describe(d)}" for d in report.differences)
    return "\n".join(lines) + "\n"


async def _reconcile(
    connections: dict[str, Any], first: str, last: str, woocommerce: str | None, asperion: str | None
) -> Report:
    from engine.db import Database, migrate
    from engine.reconcile_run import reconcile
    from engine.settings import get_settings

    settings = get_settings()
    if settings.is_sqlite:
        await migrate(settings)
    db = Database(settings.database_url)
    try:
        return await reconcile(db, connections, first, last, from_file=True, woocommerce=woocommerce, asperion=asperion)
    finally:
        await db.dispose()


def run_reconcile(
    connections: dict[str, Any],
    first: str,
    last: str,
    *,
    as_json: bool,
    woocommerce: str | None = None,
    asperion: str | None = None,
) -> int:
    """Reconcile and print; 0 = balanced, 1 = differences, 2 = bad input or an application that cannot be read."""
    from engine.reconcile_run import BadInput, parse_period
    from nodes.connectors import ApiError

    try:
        parse_period(first, last)  # before any database or network work
        report = asyncio.run(_reconcile(connections, first, last, woocommerce, asperion))
    except BadInput as exc:
        sys.stderr.write(f"koppel: {exc}\n")
        return EXIT_BAD_INPUT
    except ApiError as exc:
        sys.stderr.write(f"koppel: could not read the shop or the books: {exc}\n")
        return EXIT_BAD_INPUT
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_text(report))
    return EXIT_BALANCED if report.balanced else EXIT_DIFFERENCES
