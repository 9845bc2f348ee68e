"""What every source shares: run parameters (ids, backfill window, limit) and the incremental cursor's bookkeeping.

The cursor of a source is the newest change stamp it has handled (``date_modified_gmt`` for WooCommerce). A run reads
from a little before it (:data:`OVERLAP`), because a change can be saved with a stamp older than one already seen
(two requests committing out of order); the idempotency map stops the few records read twice.

When the application sorts by that stamp, the cursor may move after every page the engine has handled; otherwise it
moves only when the whole read is over and every page has been handled, so a run cut short (crash, limit,
cancellation) never skips a record next time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

if TYPE_CHECKING:
    from nodes.base import CursorStore, Record

__all__ = (
    "OVERLAP",
    "CursorTracker",
    "amount_field",
    "effective_limit",
    "gmt_stamp",
    "incremental_field",
    "parse_stamp",
    "record_ids",
    "shift",
)

OVERLAP = timedelta(minutes=2)
"""How far before the cursor an incremental read starts."""


def amount_field() -> Any:
    """The ``amount_per_run`` config field."""
    return Field(
        None,
        ge=1,
        title="At most per run",
        description="Read at most this many records per run (empty = all); the next run goes on from there.",
    )


def incremental_field(default: bool = True, what: str = "records") -> Any:
    """The ``incremental`` config field."""
    return Field(
        default,
        title="Only changes since the last run",
        description=f"Read only {what} changed since the previous run (off = every run reads everything).",
    )


def parse_stamp(value: Any) -> datetime | None:
    """A datetime from an ISO string or date (naive ones are taken as UTC), or None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def gmt_stamp(value: Any) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS`` in UTC, the form WooCommerce's ``*_gmt`` fields and filters use."""
    moment = parse_stamp(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None


def shift(stamp: str | None, delta: timedelta) -> str | None:
    """``stamp`` moved by ``delta`` (same format), or None."""
    moment = parse_stamp(stamp)
    return (moment + delta).strftime("%Y-%m-%dT%H:%M:%S") if moment else None


def effective_limit(params: Mapping[str, Any], amount_per_run: int | None) -> int | None:
    """The smaller of the run's ``limit`` and the node's ``amount_per_run`` (None = no limit)."""
    limits = [n for n in (params.get("limit"), amount_per_run) if n not in (None, "", 0)]
    return min(int(n) for n in limits) if limits else None


def record_ids(params: Mapping[str, Any], prefixes: Iterable[str]) -> list[int] | None:
    """The run's ``record_ids`` that belong to this source, as numbers (``1234``, ``"1234"``, ``"order:1234"``).

    Returns:
        None when the run does not restrict the ids, else the list (possibly empty: none are this source's).
    """
    raw = params.get("record_ids")
    if raw in (None, "", []):
        return None
    if isinstance(raw, str | int):
        raw = [raw]
    allowed = set(prefixes)
    ids: list[int] = []
    for item in raw:
        text = str(item).strip()
        prefix, sep, number = text.rpartition(":")
        if sep and prefix not in allowed:
            continue
        if number.isdigit() and int(number) not in ids:
            ids.append(int(number))
    return ids


class CursorTracker:
    """Decides when a source's cursor may move, page by page.

    Args:
        store: the node's cursor store; None disables the cursor (backfill, chosen ids, full reads).
        ordered: the application returns records in ascending stamp order.
        key: turns a stamp into something comparable (default: the string itself).
    """

    def __init__(self, store: CursorStore | None, *, ordered: bool, key: Callable[[str], Any] = lambda s: s) -> None:
        self.store = store
        self.ordered = ordered
        self.key = key
        self.stamps: dict[str, str] = {}
        self.best: str | None = None
        self.yielded = 0
        self.committed = 0
        self.exhausted = False
        self.started_from: str | None = None

    def note(self, records: list[Record], stamp_of: Callable[[Record], Any]) -> None:
        """Remember the stamps of a page about to be yielded."""
        if self.store is None:
            return
        for record in records:
            stamp = stamp_of(record)
            if stamp not in (None, ""):
                self.stamps[record.source_id] = str(stamp)
        self.yielded += 1

    async def commit(self, records: list[Record]) -> None:
        """The engine handled ``records``: move the cursor when that is safe."""
        if self.store is None:
            return
        for record in records:
            stamp = self.stamps.pop(record.source_id, None)
            if stamp is not None and (self.best is None or self.key(stamp) > self.key(self.best)):
                self.best = stamp
        self.committed += 1
        if self.ordered or (self.exhausted and self.committed >= self.yielded):
            await self._write()

    async def finish(self) -> None:
        """The read is over (every page was yielded)."""
        if self.store is None:
            return
        self.exhausted = True
        if self.committed >= self.yielded:
            await self._write()

    async def _write(self) -> None:
        if self.store is None or self.best is None:
            return
        current = await self.store.get()
        if current and self.key(current) >= self.key(self.best):
            return  # never move back (an older page handled late)
        await self.store.set(self.best)
