"""What every source shares: run parameters (ids, backfill window, limit) and the incremental cursor's bookkeeping.

The cursor of a source is the newest change stamp it has handled (``date_modified_gmt`` for WooCommerce). A run reads
from a little before it (:data:`OVERLAP`), because a change can be saved with a stamp older than one already seen
(two requests committing out of order); the idempotency map stops the few records read twice.

When the application sorts by that stamp, the cursor may move after every page the engine has handled; otherwise it
moves only when the whole read is over and every page has been handled, so a run cut short (crash, limit,
cancellation) never skips a record next time.
"""

from __future__ import annotations

import json
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
    "decode_cursor",
    "effective_limit",
    "encode_cursor",
    "gmt_stamp",
    "incremental_field",
    "parse_stamp",
    "record_ids",
    "shift",
)

OVERLAP = timedelta(minutes=2)
"""How far before the cursor an incremental read starts."""
PRUNE_SLACK = 1000
"""Stamps a cursor tracker keeps before it first forgets those the overlap no longer reaches."""


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
    """The run's ``record_ids`` that belong to this source, as numbers (``1234``, ``"order:1234"``, and
    ``"order:1234:refunds:40"`` for a record derived from order 1234).

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
        # A record derived from a source record keeps its origin in front: "order:12:refunds:40" is order 12.
        parts = str(item).strip().split(":")
        prefix, sep, number = (parts[0], ":", parts[1]) if len(parts) >= 2 else ("", "", parts[0])
        if sep and prefix not in allowed:
            continue
        if number.isdigit() and int(number) not in ids:
            ids.append(int(number))
    return ids


def decode_cursor(raw: str | None) -> tuple[str | None, frozenset[str]]:
    """The stamp and the source ids handled within the overlap before it, from a stored cursor value."""
    if not raw:
        return None, frozenset()
    if raw.startswith("{"):
        try:
            value = json.loads(raw)
            return (str(value["at"]) if value.get("at") else None), frozenset(str(i) for i in value.get("seen", []))
        except (ValueError, TypeError, AttributeError):
            return None, frozenset()
    return raw, frozenset()


def encode_cursor(at: str, seen: Iterable[str]) -> str:
    """A cursor value: the bare stamp, or ``{"at", "seen"}`` when records near it were handled."""
    ids = sorted(set(seen))
    return json.dumps({"at": at, "seen": ids}, separators=(",", ":")) if ids else at


class CursorTracker:
    """Decides when a source's cursor may move, page by page, and what a new read may skip.

    The stored value is the newest stamp handled plus the ids handled within :data:`OVERLAP` before it, so that
    the overlap a read starts with brings back only records not handled yet.

    Args:
        store: the node's cursor store; None disables the cursor (backfill, chosen ids, full reads).
        ordered: the application returns records in ascending stamp order.
        key: turns a stamp into something comparable (default: the string itself).
        overlap: how far before the stamp a read starts (None: read strictly after it, e.g. for ids).
    """

    def __init__(
        self,
        store: CursorStore | None,
        *,
        ordered: bool,
        key: Callable[[str], Any] = lambda s: s,
        overlap: timedelta | None = OVERLAP,
    ) -> None:
        self.store = store
        self.ordered = ordered
        self.key = key
        self.overlap = overlap
        self.stamps: dict[str, str] = {}
        self.recent: dict[str, str] = {}
        self.best: str | None = None
        self.loaded_at: str | None = None
        self.loaded_seen: frozenset[str] = frozenset()
        self.dirty = False
        self.yielded = 0
        self.committed = 0
        self.exhausted = False
        self._prune_at = PRUNE_SLACK
        """:attr:`recent` is pruned when it grows past this (twice what the last pruning kept, and some)."""

    async def start(self) -> str | None:
        """Load the stored cursor; return the stamp a read starts after (moved back by the overlap)."""
        if self.store is None:
            return None
        self.loaded_at, self.loaded_seen = decode_cursor(await self.store.get())
        self.best = self.loaded_at
        self.recent = dict.fromkeys(self.loaded_seen, self.loaded_at or "")
        if self.loaded_at and self.overlap:
            return shift(self.loaded_at, -self.overlap)
        return self.loaded_at

    def handled_before(self, record: Record, stamp: Any) -> bool:
        """Whether a previous run already handled this very version of the record (read again by the overlap)."""
        if record.source_id not in self.loaded_seen or stamp in (None, "") or self.loaded_at is None:
            return False
        return bool(self.key(str(stamp)) <= self.key(self.loaded_at))

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
            if stamp is None:
                continue
            self.dirty = True
            self.recent[record.source_id] = stamp
            if self.best is None or self.key(stamp) > self.key(self.best):
                self.best = stamp
        self.committed += 1
        if len(self.recent) > self._prune_at:
            # A read that is not in stamp order writes the cursor only at its end: without this, every record's stamp
            # stayed here until then (100,000 records, 100,000 entries). The best stamp only grows, so a stamp the
            # overlap no longer reaches now never will.
            self._seen_near_best()
            self._prune_at = 2 * len(self.recent) + PRUNE_SLACK
        if self.ordered or (self.exhausted and self.committed >= self.yielded):
            await self._write()

    async def finish(self) -> None:
        """The read is over (every page was yielded)."""
        if self.store is None:
            return
        self.exhausted = True
        if self.committed >= self.yielded:
            await self._write()

    def _seen_near_best(self) -> list[str]:
        if not self.overlap:
            self.recent.clear()  # nothing is read again, so nothing needs telling apart
            return []
        if self.best is None:
            return []
        floor = shift(self.best, -self.overlap) or ""
        self.recent = {sid: st for sid, st in self.recent.items() if st >= floor}
        return list(self.recent)

    async def _write(self) -> None:
        if self.store is None or self.best is None or not self.dirty:
            return
        current, _ = decode_cursor(await self.store.get())
        if current and self.key(current) > self.key(self.best):
            return  # never move back (another run got further)
        await self.store.set(encode_cursor(self.best, self._seen_near_best()))
        self.dirty = False
