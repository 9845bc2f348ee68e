"""The reading loop the WooCommerce sources share: chosen ids, backfill window, incremental cursor, limit.

Orders and products are read in ascending ``date_modified_gmt`` order with keyset paging
(:meth:`~nodes.connectors.woocommerce.WooCommerceClient.modified_pages`), bounded above by the moment the read
started: objects changed while a run goes on (by this very flow, say) neither shift a page nor come round again;
the next run picks them up. Customers have no modified filter in the REST API: they are read by id and filtered
here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from nodes.base import NodeConfig, Record, SourceNode
from nodes.connectors.woocommerce import WooCommerceClient, WooCommerceConnection
from nodes.sources._common import (
    OVERLAP,
    CursorTracker,
    decode_cursor,
    effective_limit,
    gmt_stamp,
    record_ids,
    shift,
)

__all__ = ("WooCommerceSource", "WooCommerceSourceConfig")

_INCLUDE_CHUNK = 100


class WooCommerceSourceConfig(NodeConfig):
    """What every WooCommerce source's settings start with: the store to read from."""

    connection: WooCommerceConnection = WooCommerceConnection.field("The store to read from.")


class WooCommerceSource(SourceNode):
    reads_by_id = True
    """Base of the WooCommerce sources; subclasses give the collection, its filters and the records."""

    app = "woocommerce"
    path: ClassVar[str]
    prefixes: ClassVar[tuple[str, ...]]
    """``record_ids`` prefixes this source answers (``order`` for ``order:12``)."""
    server_filters_modified: ClassVar[bool] = True
    """The collection takes ``modified_after``/``modified_before`` (customers do not)."""

    config: WooCommerceSourceConfig
    _tracker: CursorTracker | None = None

    @property
    def client(self) -> WooCommerceClient:
        return self.ctx.client(self.config.connection)

    # -- what subclasses say ------------------------------------------------------------------------------------

    @abstractmethod
    def filters(self) -> dict[str, Any]:
        """Query parameters selecting the collection (statuses, types, ...)."""

    @abstractmethod
    async def to_records(self, items: list[dict[str, Any]]) -> list[Record]:
        """Records for one page of objects."""

    def keyset(self) -> bool:
        """Read in modified order (keyset paging); False = by id with page numbers."""
        return self.server_filters_modified

    def wanted(self, item: dict[str, Any]) -> bool:
        """Client-side filter for what the API cannot select (default: everything)."""
        return True

    @staticmethod
    def stamp_of(record: Record) -> Any:
        """The change stamp the cursor follows."""
        return record.source.get("date_modified_gmt") or record.data.get("date_modified_gmt")

    # -- reading ------------------------------------------------------------------------------------------------

    async def _window(self) -> tuple[str | None, str | None, bool]:
        """(modified after, modified before, cursor in use) for this run."""
        params = self.ctx.params
        after, before = gmt_stamp(params.get("modified_after")), gmt_stamp(params.get("modified_before"))
        if after or before:
            return after, before, False  # a backfill never moves the cursor
        if not getattr(self.config, "incremental", False):
            return None, None, False
        stored, _ = decode_cursor(await self.ctx.cursor(self.id).get())
        return (shift(stored, -OVERLAP) if stored else None), None, True

    async def _pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        params = self.filters()
        ids = record_ids(self.ctx.params, self.prefixes)
        if ids is not None:
            for start in range(0, len(ids), _INCLUDE_CHUNK):
                chunk = ids[start : start + _INCLUDE_CHUNK]
                async for page in self.client.pages(
                    self.path, {**params, "include": chunk, "orderby": "id", "order": "asc"}
                ):
                    yield page
            return
        after, before, cursor_on = await self._window()
        ordered = self.keyset()
        self._tracker = CursorTracker(self.ctx.cursor(self.id) if cursor_on else None, ordered=ordered)
        if cursor_on:
            after = await self._tracker.start()
        if ordered:
            # stamps have whole seconds and the bound is exclusive: include the second the read starts in
            snapshot = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
            upper = min(before, snapshot) if before else snapshot
            async for page in self.client.modified_pages(
                self.path, params, modified_after=after, modified_before=upper
            ):
                yield page
            return
        query = {**params, **self.order_params()}
        if self.server_filters_modified and (after or before):
            query.update(modified_after=after, modified_before=before, dates_are_gmt=True)
        async for page in self.client.pages(self.path, query):
            if not self.server_filters_modified:
                page = [item for item in page if _within(item.get("date_modified_gmt"), after, before)]
            if page:
                yield page

    def order_params(self) -> dict[str, Any]:
        """Ordering for page-number reads."""
        return {"orderby": "id", "order": "asc"}

    async def read(self) -> AsyncIterator[list[Record]]:
        """Pages of records, lazily; stops at the run's ``limit`` / the node's ``amount_per_run``."""
        limit = effective_limit(self.ctx.params, getattr(self.config, "amount_per_run", None))
        emitted = 0
        async for items in self._pages():
            records = await self.to_records([item for item in items if self.wanted(item)])
            if self._tracker:
                tracker = self._tracker
                records = [r for r in records if not tracker.handled_before(r, self.stamp_of(r))]
            if limit is not None:
                records = records[: limit - emitted]
            if records:
                if self._tracker:
                    self._tracker.note(records, self.stamp_of)
                emitted += len(records)
                yield records
            if limit is not None and emitted >= limit:
                return
        if self._tracker:
            await self._tracker.finish()

    async def commit_cursor(self, records: list[Record]) -> None:
        """Move the cursor past ``records`` (the engine handled them)."""
        if self._tracker:
            await self._tracker.commit(records)

    async def expected(self) -> int | None:
        """``X-WP-Total`` for the run's selection (None when only a client-side filter can tell)."""
        limit = effective_limit(self.ctx.params, getattr(self.config, "amount_per_run", None))
        ids = record_ids(self.ctx.params, self.prefixes)
        if ids is not None:
            total: int | None = len(ids)
        elif not self.countable():
            total = None
        else:
            after, before, _ = await self._window()
            query = self.filters()
            if after or before:
                query.update(modified_after=after, modified_before=before, dates_are_gmt=True)
            total = await self.client.total(self.path, query)
        if total is None:
            return limit
        return min(total, limit) if limit is not None else total

    def countable(self) -> bool:
        """Whether ``X-WP-Total`` counts this source's records."""
        return self.server_filters_modified


def _within(value: Any, after: str | None, before: str | None) -> bool:
    stamp = gmt_stamp(value)
    if stamp is None:
        return True
    return (after is None or stamp > after) and (before is None or stamp < before)
