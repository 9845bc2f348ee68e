"""Reconciliation, fetching: read a period's orders from WooCommerce and the bookings from Asperion, then compare.

Clients are opened as a run opens them (:class:`engine.connections.ClientPool` with the connection's rotating-token
store in the database), so a connections file shares the Asperion refresh token its flow runs keep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.connections import ClientPool
from engine.reconcile import ReconcileSettings, Report, compare
from nodes.connectors.asperion import AsperionClient
from nodes.texts import shown

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("BadInput", "parse_period", "pick_connections", "reconcile")

INVOICES = "/v1/salesinvoiceswithlines"
JOURNAL_ENTRIES = "/v1/journalentrieswithlines"
MAX_DAYS = 366 * 3


class BadInput(ValueError):
    """A period or connection that cannot be reconciled; the message says why in plain words."""


def parse_period(first: str, last: str) -> tuple[str, str]:
    """The period as two ISO dates.

    Raises:
        BadInput: a date is not YYYY-MM-DD, the end lies before the start, or the period is longer than 3 years.
    """
    days = []
    for label, text in (("from", first), ("to", last)):
        try:
            days.append(date.fromisoformat(str(text or "").strip()))
        except ValueError:
            raise BadInput(f"the {label} date {shown(text)} is not a date like 2026-11-30") from None
    if days[1] < days[0]:
        raise BadInput(f"the period ends ({days[1]}) before it starts ({days[0]})")
    if (days[1] - days[0]).days > MAX_DAYS:
        raise BadInput("the period is longer than three years; reconcile it in parts")
    return days[0].isoformat(), days[1].isoformat()


def pick_connections(
    specs: dict[str, dict[str, Any]], woocommerce: str | None = None, asperion: str | None = None
) -> tuple[str, str]:
    """The names of the shop and the books connection (the named ones, else the only one of each app).

    Raises:
        BadInput: a named connection is missing or of another app, or there is not exactly one of an app to choose.
    """
    chosen = []
    for app, name in (("woocommerce", woocommerce), ("asperion", asperion)):
        if name:
            if (specs.get(name) or {}).get("app") != app:
                raise BadInput(f"there is no {app} connection named {shown(name)}")
            chosen.append(name)
            continue
        names = sorted(n for n, spec in specs.items() if isinstance(spec, dict) and spec.get("app") == app)
        if not names:
            raise BadInput(f"the connections hold no {app} connection")
        if len(names) > 1:
            raise BadInput(f"there are several {app} connections ({', '.join(names)}); name the one to use")
        chosen.append(names[0])
    return chosen[0], chosen[1]


async def _orders(client: Any, first: str) -> tuple[list[dict[str, Any]], dict[Any, list[Mapping[str, Any]]]]:
    # A booking date in the period means the order was modified on or after it; a day's margin covers time zones.
    since = (date.fromisoformat(first) - timedelta(days=1)).isoformat() + "T00:00:00"
    orders: list[dict[str, Any]] = []
    # "any" leaves out the trash; an order trashed after booking must be seen to ask for its credit.
    for status in ("any", "trash"):
        async for page in client.modified_pages("orders", {"status": status}, modified_after=since):
            orders.extend(page)
    refunded = [order for order in orders if order.get("refunds")]
    answers = await asyncio.gather(*(client.get(f"orders/{order['id']}/refunds") for order in refunded))
    return orders, {order["id"]: list(answer or []) for order, answer in zip(refunded, answers, strict=True)}


async def _all(client: Any, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    async for page in client.pages(path, params):
        items.extend(page)
    return items


async def reconcile(
    db: Database,
    specs: dict[str, dict[str, Any]],
    first: str,
    last: str,
    *,
    from_file: bool,
    woocommerce: str | None = None,
    asperion: str | None = None,
    settings: ReconcileSettings | None = None,
) -> Report:
    """Fetch the period's records and compare them.

    Args:
        db: where the Asperion connection's rotated tokens are kept.
        specs: connections (a connections file, or :func:`engine.service.connection_specs`).
        first: first day, ``YYYY-MM-DD``.
        last: last day, inclusive.
        from_file: the specs come from a connections file (token store keyed as a file run keys it).
        woocommerce: the shop connection's name (default: the only one).
        asperion: the books connection's name (default: the only one).
        settings: tolerance and accounts.

    Raises:
        BadInput: bad dates or connections.
        nodes.connectors.ApiError: an application could not be read (its message says why).
    """
    period = parse_period(first, last)
    shop_name, books_name = pick_connections(specs, woocommerce, asperion)

    clients = ClientPool(db, specs, from_file=from_file)
    try:
        try:
            shop, books = clients.get(shop_name), clients.get(books_name)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        if not isinstance(books, AsperionClient):
            raise BadInput(f"connection {shown(books_name)} is not an Asperion administration")
        (orders, refunds), invoices, entries, codes = await asyncio.gather(
            _orders(shop, period[0]),
            _all(books, INVOICES, {"Description": "WooCommerce"}),
            _all(books, JOURNAL_ENTRIES),
            books.vat_codes(),
        )
    finally:
        await clients.close()
    percent_of = {str(code.get("id")): Decimal(str(code.get("percentage") or 0)) for code in codes}
    return compare(orders, refunds, invoices, entries, percent_of, period=period, settings=settings)
