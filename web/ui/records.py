"""A run's log as the run page lists it: one row per record, however many targets the record reached.

Entries stay one per step (the inbox and retries work per entry); they are grouped here, when read, by run and
source record. A row's outcome is the record's overall outcome — the one the run's counters count
(:data:`engine.logsink.OUTCOME_ORDER`) — its time the latest entry's, its sentence the entries' sentences joined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, and_, case, cast, false, func, literal_column, or_, select

from engine.logsink import OUTCOME_ORDER
from engine.models import LogEntry

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("OUTCOMES", "RecordRow", "load_records", "query_records", "record_key_of", "records_of")

OUTCOMES = OUTCOME_ORDER
"""The outcomes a record can have, as the run page's status filter offers them."""

_RANK = case(
    {s: rank for rank, s in enumerate(OUTCOME_ORDER)}, value=LogEntry.status, else_=OUTCOME_ORDER.index("skipped")
)
"""An entry's status as its place in :data:`OUTCOME_ORDER` (the record's outcome is its entries' lowest)."""
_KEY = case(  # constants as SQL text: the grouped and the selected expression are the same text
    (LogEntry.record_id.is_not(None), LogEntry.record_id),
    (LogEntry.source_id != literal_column("''"), LogEntry.source_id),
    else_=literal_column("'#'", String) + cast(LogEntry.id, String),
)
"""A record's key in its run: the source id of the record as read (entries written before ``record_id`` existed:
their own source id); an entry without one (a source that failed as a whole) is a record of its own."""


@dataclass
class RecordRow:
    """One record of a run, as one row of its log."""

    key: str
    entries: list[LogEntry] = field(default_factory=list)
    """The record's entries, oldest first."""

    @property
    def last(self) -> LogEntry:
        return self.entries[-1]

    @property
    def id(self) -> int:
        """The latest entry's id (the row's place in the newest-first log, and where the drawer opens)."""
        return self.last.id

    @property
    def record_key(self) -> str:
        return next((e.record_key for e in self.entries if e.record_key), "")

    @property
    def created_at(self) -> datetime:
        return self.last.created_at

    @property
    def status(self) -> str:
        """The record's outcome: the first of failed, waiting, ok, skipped that one of its entries has."""
        statuses = {e.status for e in self.entries}
        return next((s for s in OUTCOME_ORDER if s in statuses), "skipped")

    @property
    def messages(self) -> list[str]:
        return [e.message for e in self.entries if e.message]

    @property
    def node_ids(self) -> list[str]:
        return list(dict.fromkeys(e.node_id for e in self.entries))

    @property
    def dom_id(self) -> str:
        """The row's element id: the same for every entry of the record, so a live update replaces the row."""
        return "rec-" + "".join(c if c.isalnum() or c in "-_" else f"_{ord(c):x}" for c in self.key)[:120]


def record_key_of(entry: LogEntry) -> str:
    """The key of the record an entry belongs to (as :data:`_KEY` computes it in SQL)."""
    return entry.record_id or entry.source_id or f"#{entry.id}"


def records_of(entries: list[LogEntry]) -> list[RecordRow]:
    """Entries grouped into records, the latest record first (each record's entries oldest first)."""
    rows: dict[str, RecordRow] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        key = record_key_of(entry)
        rows.setdefault(key, RecordRow(key)).entries.append(entry)
    return sorted(rows.values(), key=lambda r: r.id, reverse=True)


async def query_records(
    db: Database,
    run_id: str,
    *,
    status: str | None = None,
    node: str | None = None,
    q: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[RecordRow]:
    """One page of a run's records, the latest first (``before_id``: records whose latest entry is older).

    ``status`` filters by the record's outcome, ``node`` keeps records with an entry at that step, ``q`` records
    whose key contains the text."""
    last = func.max(LogEntry.id)
    grouped = select(_KEY.label("key"), last.label("last")).where(LogEntry.run_id == run_id).group_by(_KEY)
    if status:
        ranks = [OUTCOME_ORDER.index(s) for s in status.split(",") if s in OUTCOME_ORDER]
        grouped = grouped.having(func.min(_RANK).in_(ranks or [-1]))
    if node:
        grouped = grouped.having(func.max(case((LogEntry.node_id == node, 1), else_=0)) == 1)
    if q:
        matches = LogEntry.record_key.like(f"%{q.strip()}%")
        grouped = grouped.having(func.max(case((matches, 1), else_=0)) == 1)
    if before_id is not None:
        grouped = grouped.having(last < before_id)
    grouped = grouped.order_by(last.desc()).limit(max(1, min(limit, 500)))
    async with db.session() as session:
        keys = [str(k) for k in (await session.execute(grouped)).scalars()]
    return await load_records(db, run_id, keys)


async def load_records(db: Database, run_id: str, keys: list[str]) -> list[RecordRow]:
    """The records of a run with these keys (:func:`record_key_of`), every entry of each, the latest record first."""
    if not keys:
        return []
    lone = [k for k in keys if k.startswith("#") and k[1:].isdigit()]
    ids = [int(k[1:]) for k in lone]
    sources = [k for k in keys if k not in lone]
    wanted = or_(
        LogEntry.record_id.in_(sources) if sources else false(),
        and_(LogEntry.record_id.is_(None), LogEntry.source_id.in_(sources)) if sources else false(),
        LogEntry.id.in_(ids) if ids else false(),
    )
    stmt = select(LogEntry).where(LogEntry.run_id == run_id, wanted).order_by(LogEntry.id)
    async with db.session() as session:
        entries = list((await session.execute(stmt)).scalars())
    return records_of(entries)
