"""``asperion.sales_orders``: Asperion sales orders (inTrade), new ones since the last run by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from nodes.base import Kind, NodeConfig, Port, Record, SourceNode
from nodes.connectors.asperion import AsperionConnection
from nodes.echo import Origin, asperion_origin
from nodes.sources._common import CursorTracker, amount_field, decode_cursor, effective_limit, parse_stamp, record_ids

if TYPE_CHECKING:
    from nodes.connectors.asperion import AsperionClient

__all__ = ("SalesOrdersConfig", "SalesOrdersSource", "sales_order_record")

Status = Literal["open", "delivered", "invoiced"]


class SalesOrdersConfig(NodeConfig):
    """Settings of the sales orders source."""

    connection: AsperionConnection = AsperionConnection.field("The administration to read from.")
    statuses: list[Status] = Field(
        default_factory=lambda: list[Status](("open",)),
        title="Statuses",
        description="Read sales orders with these statuses (empty = all).",
        json_schema_extra={"ui": {"widget": "select", "multiple": True}},
    )
    incremental: bool = Field(
        True,
        title="Only new orders since the last run",
        description="Read only sales orders created since the previous run (off = every run reads all).",
    )
    amount_per_run: int | None = amount_field()


def sales_order_record(order: dict[str, Any]) -> Record:
    """The record of a sales order: key = its order number, source id = ``salesorder:<id>``."""
    key = str(order.get("orderNumber") or "").strip() or f"sales order #{order['id']}"
    return Record(key=key, source_id=f"salesorder:{order['id']}", data=order)


def _day(value: Any) -> str | None:
    moment = parse_stamp(value)
    return moment.date().isoformat() if moment else None


class SalesOrdersSource(SourceNode):
    """Reads Asperion sales orders page by page, in id order."""

    reads_by_id = True

    type = "asperion.sales_orders"
    kind = Kind.SOURCE
    title = "Asperion sales orders"
    description = (
        "Reads the administration's sales orders (inTrade) with the chosen statuses, new ones since the last run by "
        "default. Sales orders are not in Asperion's public documentation: their shape is reconstructed."
    )
    app = "asperion"
    config_model = SalesOrdersConfig
    outputs = (Port("out", "asperion.sales_order"),)

    config: SalesOrdersConfig
    _tracker: CursorTracker | None = None

    @property
    def client(self) -> AsperionClient:
        return self.ctx.client(self.config.connection)

    def _status(self) -> str | None:
        return self.config.statuses[0] if len(self.config.statuses) == 1 else None

    async def _selection(self) -> dict[str, Any]:
        params = self.ctx.params
        date_from, date_to = _day(params.get("modified_after")), _day(params.get("modified_before"))
        selection: dict[str, Any] = {"status": self._status(), "date_from": date_from, "date_to": date_to}
        if not (date_from or date_to) and self.config.incremental:
            stored, _ = decode_cursor(await self.ctx.cursor(self.id).get())
            selection["min_id"] = int(stored) + 1 if stored and stored.isdigit() else None
            selection["cursor"] = True
        return selection

    async def read(self) -> AsyncIterator[list[Record]]:
        """Pages of sales order records (``lines`` as a plain list)."""
        ids = record_ids(self.ctx.params, ("salesorder",))
        limit = effective_limit(self.ctx.params, self.config.amount_per_run)
        selection = await self._selection() if ids is None else {"status": self._status()}
        use_cursor = bool(selection.pop("cursor", False))
        self._tracker = CursorTracker(
            self.ctx.cursor(self.id) if use_cursor else None, ordered=True, key=int, overlap=None
        )
        await self._tracker.start()
        wanted = set(self.config.statuses)
        emitted = 0
        async for page in self.client.sales_order_pages(**selection):
            items = [o for o in page if not wanted or str(o.get("status") or "").lower() in wanted]
            items = [o for o in items if ids is None or int(o.get("id") or 0) in ids]
            records = [sales_order_record(o) for o in items]
            if limit is not None:
                records = records[: limit - emitted]
            if records:
                self._tracker.note(records, lambda r: r.data.get("id"))
                emitted += len(records)
                yield records
            if limit is not None and emitted >= limit:
                return
        await self._tracker.finish()

    async def commit_cursor(self, records: list[Record]) -> None:
        """The cursor is the highest sales order id handled (orders come in id order)."""
        if self._tracker:
            await self._tracker.commit(records)

    async def expected(self) -> int | None:
        """``totalCount`` of the selection (exact with at most one status)."""
        limit = effective_limit(self.ctx.params, self.config.amount_per_run)
        ids = record_ids(self.ctx.params, ("salesorder",))
        if ids is not None:
            total: int | None = len(ids)
        elif len(self.config.statuses) > 1:
            total = None
        else:
            selection = await self._selection()
            selection.pop("cursor", None)
            total = await self.client.count_sales_orders(**selection)
        if total is None:
            return limit
        return min(total, limit) if limit is not None else total

    def origin(self, record: Record) -> Origin | None:
        """A sales order Koppel booked for a WooCommerce order is described "WooCommerce order {number}"."""
        return asperion_origin(record.data)
