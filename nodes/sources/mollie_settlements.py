"""``mollie.settlements``: Mollie's payouts to the bank, each with what it settled (payments, refunds, chargebacks).

A settlement record is Mollie's settlement object (``periods`` with revenue and costs per month) plus, by default,
``settled``: its payments, refunds and chargebacks read from the settlement's own lists and totalled, so a booking
can be checked to the cent against them. ``settled.payments.order_ids`` are the WooCommerce orders paid (from the
payments' ``metadata.order_id``, as the Mollie WooCommerce plugin writes it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from nodes.base import Kind, NodeConfig, Port, Record, SourceNode
from nodes.connectors.mollie import money, order_id_of
from nodes.sources._common import CursorTracker, amount_field, effective_limit, gmt_stamp, incremental_field, shift

if TYPE_CHECKING:
    from nodes.connectors.mollie import MollieClient

__all__ = ("SettlementsConfig", "SettlementsSource", "settlement_record", "settlement_stamp")

Status = Literal["paidout", "pending", "failed"]

_MARGIN = timedelta(days=31)
"""Settlements are listed newest created first; one created this long before the window cannot be paid out in it."""


def _paid_out() -> list[Status]:
    return ["paidout"]


class SettlementsConfig(NodeConfig):
    """Settings of the Mollie settlements source."""

    connection: str = Field("mollie", title="Mollie connection", description="The Mollie account to read from.")
    statuses: list[Status] = Field(
        default_factory=_paid_out,
        title="Settlement statuses",
        description="Read settlements in these states: 'paidout' = the money reached the bank (the default).",
    )
    settled_from: date | None = Field(
        None,
        title="Paid out from",
        description="Ignore settlements paid out before this day (UTC); empty = every settlement.",
    )
    with_details: bool = Field(
        True,
        title="Read the settled payments",
        description="Also read each settlement's payments, refunds and chargebacks, so the booking is checked to "
        "the cent against them (one request per list and settlement).",
    )
    incremental: bool = incremental_field(True, "settlements")
    amount_per_run: int | None = amount_field()


def settlement_stamp(settlement: dict[str, Any]) -> str | None:
    """When the settlement was paid out (``settledAt``), else created, as ``YYYY-MM-DDTHH:MM:SS`` UTC."""
    return gmt_stamp(settlement.get("settledAt") or settlement.get("createdAt"))


def settlement_record(settlement: dict[str, Any]) -> Record:
    """The record of a settlement: key = its bank reference, source id = ``settlement:<id>``."""
    key = str(settlement.get("reference") or settlement["id"])
    return Record(key=key, source_id=f"settlement:{settlement['id']}", data=settlement)


def _total(items: list[dict[str, Any]]) -> str:
    return f"{abs(sum((money(item.get('settlementAmount') or item.get('amount')) for item in items), Decimal(0))):.2f}"


class SettlementsSource(SourceNode):
    """Reads Mollie settlements, newest first, page by page."""

    type = "mollie.settlements"
    kind = Kind.SOURCE
    title = "Mollie settlements"
    description = (
        "Reads Mollie's settlements (the payouts to your bank) with their revenue and costs per month, and by "
        "default the payments, refunds and chargebacks each one settled. Only new payouts since the last run."
    )
    app = "mollie"
    config_model = SettlementsConfig
    outputs = (Port("out", "mollie.settlement"),)

    config: SettlementsConfig
    _tracker: CursorTracker | None = None

    @property
    def client(self) -> MollieClient:
        return self.ctx.client(self.config.connection)

    def _chosen_ids(self) -> list[str] | None:
        raw = self.ctx.params.get("record_ids")
        if raw in (None, "", []):
            return None
        items = [raw] if isinstance(raw, str) else list(raw)
        ids = [str(item).strip().removeprefix("settlement:") for item in items]
        return [i for i in ids if i.startswith("stl_")]

    async def _window(self) -> tuple[str | None, str | None, bool]:
        params = self.ctx.params
        after, before = gmt_stamp(params.get("modified_after")), gmt_stamp(params.get("modified_before"))
        if after or before:
            return after, before, False
        floor = gmt_stamp(f"{self.config.settled_from.isoformat()}T00:00:00") if self.config.settled_from else None
        return floor, None, self.config.incremental

    async def _with_details(self, settlement: dict[str, Any]) -> dict[str, Any]:
        if not self.config.with_details:
            return settlement
        sid = str(settlement["id"])
        payments = await self.client.settlement_members(sid, "payments")
        refunds = await self.client.settlement_members(sid, "refunds")
        chargebacks = await self.client.settlement_members(sid, "chargebacks")
        order_ids = [oid for oid in (order_id_of(p) for p in payments) if oid is not None]
        settled = {
            "payments": {"count": len(payments), "total": _total(payments), "order_ids": order_ids},
            "refunds": {"count": len(refunds), "total": _total(refunds)},
            "chargebacks": {"count": len(chargebacks), "total": _total(chargebacks)},
        }
        return {**settlement, "settled": settled}

    async def read(self) -> AsyncIterator[list[Record]]:
        """Pages of settlement records (the chosen ids, or those in the window and statuses)."""
        limit = effective_limit(self.ctx.params, self.config.amount_per_run)
        ids = self._chosen_ids()
        if ids is not None:
            chosen = [await self._with_details(await self.client.settlement(sid)) for sid in ids[:limit]]
            if chosen:
                yield [settlement_record(s) for s in chosen if s.get("id")]
            return
        after, before, cursor_on = await self._window()
        self._tracker = tracker = CursorTracker(self.ctx.cursor(self.id) if cursor_on else None, ordered=False)
        if cursor_on:
            stored = await tracker.start()
            after = max(filter(None, (after, stored)), default=None)
        floor = after
        oldest = shift(floor, -_MARGIN) if floor else None
        emitted = 0
        async for page in self.client.settlement_pages():
            records: list[Record] = []
            for settlement in page:
                stamp = settlement_stamp(settlement)
                if settlement.get("status") not in self.config.statuses or stamp is None:
                    continue
                if (floor and stamp <= floor) or (before and stamp > before):
                    continue
                record = settlement_record(await self._with_details(settlement))
                if tracker.handled_before(record, stamp):
                    continue
                records.append(record)
                if limit is not None and emitted + len(records) >= limit:
                    break
            if records:
                tracker.note(records, lambda r: settlement_stamp(r.data))
                emitted += len(records)
                yield records
            if limit is not None and emitted >= limit:
                return
            created = gmt_stamp(page[-1].get("createdAt"))
            if oldest and created and created < oldest:
                break  # every older settlement was created (and so paid out) before the window
        await tracker.finish()

    async def commit_cursor(self, records: list[Record]) -> None:
        """The cursor (newest payout handled) moves once the whole read was handled."""
        if self._tracker:
            await self._tracker.commit(records)
