"""``asperion.sales_order``: post a sales order (header + lines) once, and keep it in step with its order.

A sales order is found again by its description. What the order asks of the one found:
- the same lines, debtor and status → skipped, "already exists as sales order N";
- a completed order whose sales order is still open → moved to delivered (its reservation ends);
- changed after booking (lines, amounts, VAT, debtor) while the sales order is open or delivered → updated in place
  (Asperion moves the reservation or the stock by the difference);
- cancelled, failed, trashed or refunded in full after booking (the cancellation map asks for status ``cancelled``)
  → moved to cancelled [inferred status]: an open order's reservation ends, a delivered order's stock comes back,
  once;
- an invoiced sales order is final: a change or cancellation fails with what to do in Asperion (credit its invoice).
That is why this target is asked every time (an upsert): the idempotency map alone would skip a changed order.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from nodes.accounting import cents, money
from nodes.base import Delivery, Port, Record, RecordFailed
from nodes.connectors.asperion import SALES_ORDERS, AsperionClient, lines_of
from nodes.targets._common import scratch, write
from nodes.targets._documents import AsperionDocumentTarget

__all__ = ("SalesOrderTarget", "booked_content")

_RANK = {"open": 0, "delivered": 1, "invoiced": 2}


def booked_content(order: Mapping[str, Any]) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    """What a sales order books, comparable between the payload and the order Asperion holds: the debtor and per
    line the article, quantity, amount, VAT code and revenue account."""
    lines = []
    for line in lines_of(order):
        quantity = money(line.get("quantity") or 0).normalize()
        amount = cents(money(line.get("amount")))
        lines.append(
            (
                str(line.get("articleId") or ""),
                format(quantity, "f"),
                format(amount, "f"),
                str(line.get("vatCode") or ""),
                str(line.get("ledgerAccountId") or ""),
            )
        )
    return str(order.get("debtorCustomerNumber") or ""), sorted(lines)


def _changes(found: Mapping[str, Any], payload: Mapping[str, Any]) -> list[str]:
    (old_debtor, old_lines), (new_debtor, new_lines) = booked_content(found), booked_content(payload)
    changes = []
    if old_lines != new_lines:
        old = sum((Decimal(line[2]) for line in old_lines), Decimal(0))
        new = sum((Decimal(line[2]) for line in new_lines), Decimal(0))
        changes.append(f"lines (total ex VAT {old} → {new})" if old != new else "lines")
    if old_debtor != new_debtor:
        changes.append(f"debtor {old_debtor or '—'} → {new_debtor or '—'}")
    return changes


class SalesOrderTarget(AsperionDocumentTarget):
    """Creates the sales order a map node built, or brings the one with the same description in step."""

    type = "asperion.sales_order"
    title = "Asperion sales order"
    description = (
        "Creates the record as a sales order with its lines (inTrade administrations: this is how stock moves). "
        "An order whose description is the same is already there: it is skipped when nothing changed, updated in "
        "place when its lines or debtor changed, moved to delivered when the order is completed and cancelled when "
        "the order is. Sales orders in Asperion's API are inferred from its documentation, not its published "
        "reference."
    )
    inputs = (Port("in", "asperion.sales_order"),)
    what = "sales order"
    creates = "salesorder"
    collection = SALES_ORDERS
    required = {"debtorCustomerNumber": "debtor", "description": "description"}
    upsert: ClassVar[bool] = True

    async def find_existing(self, record: Record) -> str | None:
        """The existing order's id when it is in step; None (and a note for :meth:`send`) when it must change."""
        found = await self.find_document(record)
        if found is None:
            return None
        number = found.get("orderNumber") or found["id"]
        now = str(found.get("status") or "open").lower()
        wanted = str(record.data.get("status") or "open").lower()
        if wanted == "cancelled":
            if now == "cancelled":
                return str(found["id"])
            if now == "invoiced":
                raise RecordFailed(
                    f"the order is cancelled, but sales order {number} is invoiced in Asperion already: credit its "
                    "invoice there"
                )
            scratch(record, self.id)["change"] = (found, "cancelled", [])
            return None
        changes = _changes(found, record.data) if now != "cancelled" else ["reopened"]
        status = wanted if _RANK.get(wanted, 0) > _RANK.get(now, 0) or now == "cancelled" else now
        if not changes and status == now:
            return str(found["id"])
        if changes and now == "invoiced":
            raise RecordFailed(
                f"changed after booking ({', '.join(changes)}), but sales order {number} is invoiced in Asperion "
                "already: correct its invoice there"
            )
        scratch(record, self.id)["change"] = (found, status, changes)
        return None

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """POST the order, or bring the one found in step (its lines, debtor or status)."""
        change = scratch(record, self.id).get("change")
        if change is None:
            return await super().send(record, payload)
        found, status, changes = change
        client = self.ctx.client(self.config.connection)
        body = {**found, "status": status} if status == "cancelled" or not changes else {**payload, "status": status}
        body["orderNumber"] = found.get("orderNumber") or ""
        answer = await write(client.update_sales_order(found["id"], body), "sales order")
        number = found.get("orderNumber") or found["id"]
        if status == "cancelled":
            ends = "its stock comes back" if found.get("status") == "delivered" else "its reservation ends"
            why = "refunded in full" if record.source.get("status") == "refunded" else "cancelled"
            message = f"sales order {number} cancelled: the order is {why}, {ends}"
        elif changes:
            message = f"sales order {number} updated in place ({', '.join(changes)}), {status}"
        else:
            message = f"sales order {number} moved to delivered: the order is completed, its reservation ends"
        return Delivery(str(found["id"]), message, request=body, response=answer)

    async def find(self, client: AsperionClient, record: Record, description: str) -> Mapping[str, Any] | None:
        """Asperion's sales order for the description search."""
        return await client.find_sales_order_by_description(description)

    async def create(self, client: AsperionClient, payload: dict[str, Any]) -> Any:
        """POST the sales order with its lines."""
        return await client.create_sales_order(payload)
