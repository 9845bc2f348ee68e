"""What the Mollie sources share: Mollie lists newest first, so a read walks back to the start of its window.

A read takes the run's chosen ids, else its backfill window (``modified_after``/``modified_before``), else the
node's start date and, when incremental, the cursor (the newest stamp handled: a payout or payment date). As the
lists are ordered by creation, newest first, the read stops once a whole page was created more than
:data:`MARGIN` before the window; the cursor moves only when a read has been handled to its end.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any, ClassVar

from nodes.base import NodeConfig, Record, SourceNode
from nodes.connectors.mollie import MollieClient, MollieConnection
from nodes.sources._common import CursorTracker, effective_limit, gmt_stamp, shift

__all__ = ("MARGIN", "MollieSource", "MollieSourceConfig")

MARGIN = timedelta(days=31)
"""An object created this long before the window cannot have its stamp (paid, paid out) inside it."""


class MollieSourceConfig(NodeConfig):
    """What every Mollie source's settings start with: the account to read from."""

    connection: MollieConnection = MollieConnection.field("The Mollie account to read from.")


class MollieSource(SourceNode):
    """Base of the Mollie sources; subclasses name their list and decide what a record is."""

    app = "mollie"
    reads_by_id = True
    id_prefix: ClassVar[str]
    """The Mollie id prefix of the objects read (``stl_``, ``tr_``)."""
    record_prefix: ClassVar[str]
    """The source id prefix of the records (``settlement``, ``payment``)."""

    config: MollieSourceConfig
    _tracker: CursorTracker | None = None

    @property
    def client(self) -> MollieClient:
        return self.ctx.client(self.config.connection)

    @abstractmethod
    def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The list, newest first, page by page."""

    @abstractmethod
    async def fetch(self, object_id: str) -> dict[str, Any]:
        """One object by its Mollie id."""

    @abstractmethod
    def stamp(self, obj: dict[str, Any]) -> str | None:
        """The object's date the window and the cursor use, as ``YYYY-MM-DDTHH:MM:SS`` UTC."""

    @abstractmethod
    def wanted(self, obj: dict[str, Any]) -> bool:
        """Whether the node's settings select the object (its status)."""

    @abstractmethod
    def to_record(self, obj: dict[str, Any]) -> Record:
        """The record of an object."""

    def start_date(self) -> date | None:
        """The node's start date setting."""
        return None

    async def enrich(self, record: Record) -> Record:
        """Add what the record needs besides the list item (more requests); default: nothing."""
        return record

    def _chosen_ids(self) -> list[str] | None:
        raw = self.ctx.params.get("record_ids")
        if raw in (None, "", []):
            return None
        items = [raw] if isinstance(raw, str) else list(raw)
        ids = [str(item).strip().removeprefix(f"{self.record_prefix}:") for item in items]
        return [i for i in ids if i.startswith(self.id_prefix)]

    def _window(self) -> tuple[str | None, str | None, bool]:
        params = self.ctx.params
        after, before = gmt_stamp(params.get("modified_after")), gmt_stamp(params.get("modified_before"))
        if after or before:
            return after, before, False
        start = self.start_date()
        return (
            (gmt_stamp(f"{start.isoformat()}T00:00:00") if start else None),
            None,
            bool(getattr(self.config, "incremental", False)),
        )

    async def read(self) -> AsyncIterator[list[Record]]:
        """Pages of records: the chosen ids, or the selected objects in the window not handled before."""
        limit = effective_limit(self.ctx.params, getattr(self.config, "amount_per_run", None))
        ids = self._chosen_ids()
        if ids is not None:
            chosen = [await self.enrich(self.to_record(await self.fetch(oid))) for oid in ids[:limit]]
            if chosen:
                yield chosen
            return
        floor, before, cursor_on = self._window()
        self._tracker = tracker = CursorTracker(self.ctx.cursor(self.id) if cursor_on else None, ordered=False)
        if cursor_on:
            floor = max(filter(None, (floor, await tracker.start())), default=None)
        oldest = shift(floor, -MARGIN) if floor else None
        emitted = 0
        async for page in self.pages():
            records: list[Record] = []
            for obj in page:
                stamp = self.stamp(obj)
                if stamp is None or not self.wanted(obj) or (floor and stamp <= floor) or (before and stamp > before):
                    continue
                record = self.to_record(obj)
                if not tracker.handled_before(record, stamp):
                    records.append(await self.enrich(record))
                if limit is not None and emitted + len(records) >= limit:
                    break
            if records:
                tracker.note(records, lambda r: self.stamp(r.data))
                emitted += len(records)
                yield records
            if limit is not None and emitted >= limit:
                return
            created = gmt_stamp(page[-1].get("createdAt"))
            if oldest and created and created < oldest:
                break  # everything older was created, and so stamped, before the window
        await tracker.finish()

    async def commit_cursor(self, records: list[Record]) -> None:
        """The cursor (newest stamp handled) moves once the whole read was handled."""
        if self._tracker:
            await self._tracker.commit(records)
