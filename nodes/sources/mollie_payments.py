"""``mollie.payments``: Mollie's payments (newest first), each naming the WooCommerce order it paid.

A payment record is Mollie's payment object; its key is the shop's order when the Mollie WooCommerce plugin put it in
``metadata.order_id`` (``order 1234 (tr_…)``), and the source id ``payment:tr_…``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any, Literal

from pydantic import Field

from nodes.base import Kind, Port, Record
from nodes.connectors.mollie import order_id_of
from nodes.sources._common import amount_field, gmt_stamp, incremental_field
from nodes.sources._mollie import MollieSource, MollieSourceConfig

__all__ = ("PaymentsConfig", "PaymentsSource", "payment_record")

Status = Literal["paid", "open", "pending", "authorized", "failed", "canceled", "expired"]


def _paid() -> list[Status]:
    return ["paid"]


class PaymentsConfig(MollieSourceConfig):
    """Settings of the Mollie payments source."""

    statuses: list[Status] = Field(
        default_factory=_paid, title="Payment statuses", description="Read payments in these states."
    )
    paid_from: date | None = Field(
        None, title="Paid from", description="Ignore payments made before this day (UTC); empty = every payment."
    )
    incremental: bool = incremental_field(True, "payments")
    amount_per_run: int | None = amount_field()


def payment_record(payment: dict[str, Any]) -> Record:
    """The record of a payment: key = the shop's order and the payment id, source id = ``payment:<id>``."""
    order = order_id_of(payment)
    key = f"order {order} ({payment['id']})" if order is not None else str(payment["id"])
    return Record(key=key, source_id=f"payment:{payment['id']}", data=payment)


class PaymentsSource(MollieSource):
    """Reads Mollie payments, newest first, page by page."""

    type = "mollie.payments"
    kind = Kind.SOURCE
    title = "Mollie payments"
    description = (
        "Reads the payments of the Mollie account with the chosen statuses, each with the WooCommerce order it paid "
        "(from the payment's metadata). Only new payments since the last run."
    )
    config_model = PaymentsConfig
    outputs = (Port("out", "mollie.payment"),)
    id_prefix = "tr_"
    record_prefix = "payment"

    config: PaymentsConfig

    def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The payments, newest first."""
        return self.client.payment_pages()

    async def fetch(self, object_id: str) -> dict[str, Any]:
        """One payment."""
        return await self.client.payment(object_id)

    def stamp(self, obj: dict[str, Any]) -> str | None:
        """When it was paid, else created."""
        return gmt_stamp(obj.get("paidAt") or obj.get("createdAt"))

    def wanted(self, obj: dict[str, Any]) -> bool:
        """In one of the chosen statuses."""
        return obj.get("status") in self.config.statuses

    def to_record(self, obj: dict[str, Any]) -> Record:
        """The payment's record."""
        return payment_record(obj)

    def start_date(self) -> date | None:
        """The "paid from" setting."""
        return self.config.paid_from
