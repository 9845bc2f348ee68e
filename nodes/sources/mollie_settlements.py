"""``mollie.settlements``: Mollie's payouts to the bank, each with what it settled (payments, refunds, chargebacks).

A settlement record is Mollie's settlement object (``periods`` with revenue and costs per month) plus, by default,
``settled``: its payments, refunds and chargebacks read from the settlement's own lists and totalled, so a booking
can be checked to the cent against them. ``settled.payments.order_ids`` are the WooCommerce orders paid (from the
payments' ``metadata.order_id``, as the Mollie WooCommerce plugin writes it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from nodes.base import Kind, Port, Record
from nodes.connectors.mollie import money, order_id_of
from nodes.sources._common import amount_field, gmt_stamp, incremental_field
from nodes.sources._mollie import MollieSource, MollieSourceConfig

__all__ = ("SettlementsConfig", "SettlementsSource", "settlement_record", "settlement_stamp")

Status = Literal["paidout", "pending", "failed"]


def _paid_out() -> list[Status]:
    return ["paidout"]


class SettlementsConfig(MollieSourceConfig):
    """Settings of the Mollie settlements source."""

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


class SettlementsSource(MollieSource):
    """Reads Mollie settlements, newest first, page by page."""

    type = "mollie.settlements"
    kind = Kind.SOURCE
    title = "Mollie settlements"
    description = (
        "Reads Mollie's settlements (the payouts to your bank) with their revenue and costs per month, and by "
        "default the payments, refunds and chargebacks each one settled. Only new payouts since the last run."
    )
    config_model = SettlementsConfig
    outputs = (Port("out", "mollie.settlement"),)
    id_prefix = "stl_"
    record_prefix = "settlement"

    config: SettlementsConfig

    def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The settlements, newest first."""
        return self.client.settlement_pages()

    async def fetch(self, object_id: str) -> dict[str, Any]:
        """One settlement."""
        return await self.client.settlement(object_id)

    def stamp(self, obj: dict[str, Any]) -> str | None:
        """The payout date."""
        return settlement_stamp(obj)

    def wanted(self, obj: dict[str, Any]) -> bool:
        """In one of the chosen statuses."""
        return obj.get("status") in self.config.statuses

    def to_record(self, obj: dict[str, Any]) -> Record:
        """The settlement's record."""
        return settlement_record(obj)

    def start_date(self) -> date | None:
        """The "paid out from" setting."""
        return self.config.settled_from

    async def enrich(self, record: Record) -> Record:
        """Add ``settled``: the settlement's payments, refunds and chargebacks, counted and totalled."""
        if not self.config.with_details:
            return record
        sid = str(record.data["id"])
        payments = await self.client.settlement_members(sid, "payments")
        refunds = await self.client.settlement_members(sid, "refunds")
        chargebacks = await self.client.settlement_members(sid, "chargebacks")
        order_ids = [oid for oid in (order_id_of(p) for p in payments) if oid is not None]
        settled = {
            "payments": {"count": len(payments), "total": _total(payments), "order_ids": order_ids},
            "refunds": {"count": len(refunds), "total": _total(refunds)},
            "chargebacks": {"count": len(chargebacks), "total": _total(chargebacks)},
        }
        return settlement_record({**record.data, "settled": settled})
