"""Group-committed writes of a run: log entries, idempotency entries and the run's counts, in one transaction.

A record's entries are added together when the record is finished, and the run's counts move in the same
transaction as its entries, so after a crash the database never shows a count without its log lines. Each commit
wakes the live streams of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.broadcast import get_broadcaster
from engine.crypto import SECRET_KEYS, redact
from engine.db import BulkInsert, EncodedJSON
from engine.lease import LeaseLost
from engine.models import CreatedRecord, IdempotencyEntry, Intent, LogEntry, Run, utcnow
from nodes import jsoncodec

if TYPE_CHECKING:
    from engine.db import Database
    from engine.lease import Lease

_LOG = cast(Table, LogEntry.__table__)
_IDEMPOTENCY = cast(Table, IdempotencyEntry.__table__)
_RUN = cast(Table, Run.__table__)
_CREATED = cast(Table, CreatedRecord.__table__)
_INTENT = cast(Table, Intent.__table__)


def _insert_ignoring_duplicates(table: Table) -> Callable[[str], Any]:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table`` in a dialect's words."""
    return lambda name: (sqlite if name == "sqlite" else postgresql).insert(table).on_conflict_do_nothing()


_LOG_ROWS = BulkInsert(
    lambda _: insert(_LOG),
    ("run_id", "flow_id", "node_id", "record_key", "source_id", "record_id", "status", "message", "detail",
     "resolved", "created_at"),
)  # fmt: skip
_DELIVERY_ROWS = BulkInsert(
    _insert_ignoring_duplicates(_IDEMPOTENCY),
    ("flow_key", "node_id", "source_id", "target_id", "run_id", "created_at", "fingerprint"),
)
_CREATED_GIVEN = ("app", "scope", "record_id", "source_app", "source_id", "source_key", "flow_key", "flow_name",
                  "run_id")  # fmt: skip
"""The keys of a created record as the runner notes it (:attr:`RecordResult.created`)."""
_CREATED_ROWS = BulkInsert(_insert_ignoring_duplicates(_CREATED), (*_CREATED_GIVEN, "created_at"))

__all__ = ("SNAPSHOT_LIMIT", "LogSink", "RecordResult", "encode_detail", "snapshot")

log = logging.getLogger("koppel.logsink")

SNAPSHOT_LIMIT = 16_000
"""Characters of one snapshot kept in a log entry; longer ones are cut and marked."""

OUTCOME_ORDER = ("failed", "waiting", "ok", "skipped")

SNAPSHOT_KEYS = ("input", "request", "response")
"""The keys of a log entry's detail that hold whole objects (as does each step's ``output``): capped one by one."""


_SECRET_WORDS = ("secret", "token", "password", "authorization")
"""Every key of :data:`SECRET_KEYS` contains one of these."""
assert all(any(word in key for word in _SECRET_WORDS) for key in SECRET_KEYS)
_SECRET_WORD_BYTES = tuple(word.encode() for word in _SECRET_WORDS)
_SECRET_KEY_TEXT = re.compile("|".join(f'"{re.escape(key)}"' for key in sorted(SECRET_KEYS)), re.IGNORECASE)


def _may_hold_secret(text: str) -> bool:
    """Whether a secret key occurs in JSON ``text``: a quick look for the words first, the exact keys only when one
    is there (then :func:`redact` walks the value)."""
    if "\u212a" in text:  # KELVIN SIGN lowers to "k"; the only other non-ASCII letter lowering to ASCII, "İ" ->
        # "i" + a combining dot, cannot complete a word (no word has an "i" at its end)
        if not any(word in text.lower() for word in _SECRET_WORDS):
            return False
    else:
        # Lower-casing bytes is ASCII only and several times cheaper than str.lower() on text with any non-ASCII
        # letter (a name, "€", "×"), which is most records: it took twice the time of encoding the detail itself.
        lowered = text.encode().lower()
        if not any(word in lowered for word in _SECRET_WORD_BYTES):
            return False
    return _SECRET_KEY_TEXT.search(text) is not None


def _redacted(value: Any) -> tuple[Any, str]:
    """``value`` without secrets, and its JSON text (the value is walked only when a secret key is in the text)."""
    text = jsoncodec.dumps(value)
    if _may_hold_secret(text):
        value = redact(value)
        text = jsoncodec.dumps(value)
    return value, text


def snapshot(value: Any, limit: int = SNAPSHOT_LIMIT) -> Any:
    """A capped, redacted copy of ``value`` fit for a log entry."""
    if value is None:
        return None
    value, text = _redacted(value)
    if len(text) <= limit:
        return value
    return {"_truncated": True, "size": len(text), "preview": text[:limit]}


def encode_detail(detail: dict[str, Any], limit: int = SNAPSHOT_LIMIT) -> str:
    """The JSON text of a log entry's detail, encoded once in the common case.

    The engine puts whole objects in a detail (the record as read, each node's output, the request, the response);
    here they are redacted when a secret key may be among them, and each is capped at ``limit`` characters. When
    the whole text is within ``limit``, no part can exceed it, so the first encoding is the answer.
    """
    detail, text = _redacted(detail)
    if len(text) <= limit:
        return text
    capped = {key: snapshot(value, limit) if key in SNAPSHOT_KEYS else value for key, value in detail.items()}
    steps = capped.get("steps")
    if isinstance(steps, list):
        capped["steps"] = [
            {**step, "output": snapshot(step["output"], limit)} if isinstance(step, dict) and "output" in step else step
            for step in steps
        ]
    return jsoncodec.dumps(capped)


@dataclass
class RecordResult:
    """Everything one record left behind, committed atomically."""

    source_id: str
    outcome: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    """Records this record's targets created (``created_records`` rows, the echo guard)."""
    in_doubt: set[str] = field(default_factory=set)
    """Target nodes whose ``send`` was called without a known outcome: their delivery intents stay (the next run
    asks the application); every other intent of the record is settled with this result."""


class LogSink:
    def __init__(
        self,
        db: Database,
        run_id: str,
        flow_key: str,
        flow_id: str | None,
        *,
        batch_size: int = 500,
        interval_s: float = 0.25,
        max_pending: int = 5000,
        lease: Lease | None = None,
        dry_run: bool = False,
    ) -> None:
        self.db = db
        self.lease = lease
        """When set, every batch is written only while this worker still holds the run (engine.lease)."""
        self.dry_run = dry_run
        """A dry run sends nothing, so it settles no delivery intent (a real run's doubt must outlive it)."""
        self.run_id = run_id
        self.flow_key = flow_key
        self.flow_id = flow_id
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.max_pending = max_pending
        self.counts: Counter[str] = Counter()
        """Counts committed so far plus pending (the live view)."""
        self._pending: list[RecordResult] = []
        self._lock = asyncio.Lock()
        self._room = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._wake = asyncio.Event()
        self._redact: Callable[[Any], Any] | None = None
        """Privacy: applied to every entry's ``detail`` when the flow redacts personal data (engine.privacy)."""

    async def start(self, initial: dict[str, int]) -> None:
        self.counts.update({k: v for k, v in initial.items() if v})
        from engine.privacy import redactor_for

        self._redact = await redactor_for(self.db, self.flow_id)
        self._task = asyncio.create_task(self._loop())

    async def add(self, result: RecordResult) -> None:
        """Queue a finished record (waits when the writer is behind, so memory stays bounded).

        Each entry's detail is encoded here, once: a pending record then holds its JSON text (a few kilobytes)
        instead of the objects it was made of (the order as read, each step's output, request and response: several
        times that), which kept a run behind a slow writer at 250 MB."""
        for entry in result.entries:
            detail = entry.get("detail")
            if detail and not isinstance(detail, EncodedJSON):
                if self._redact is not None:
                    detail = self._redact(detail)
                entry["detail"] = EncodedJSON(encode_detail(detail))
        if len(self._pending) >= self.max_pending and not self._closed:
            async with self._room:
                await self._room.wait_for(lambda: len(self._pending) < self.max_pending or self._closed)
        self._pending.append(result)
        self.counts["read"] += 1
        self.counts[result.outcome] += 1
        if len(self._pending) >= self.batch_size:
            await self.flush()

    async def _loop(self) -> None:
        clock = asyncio.get_running_loop().time
        tick = clock() + self.interval_s
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, tick - clock()))
            # The next tick counts from the start of this write, not its end: a slow write (a busy machine, a far
            # database) does not stretch the delay before a record's line is readable by the write's duration.
            tick = clock() + self.interval_s
            if self._closed:
                return  # close() writes what is left
            try:
                await self.flush()
            except LeaseLost:
                return
            except Exception:  # the batch went back to the front of the queue: the next tick tries again
                log.warning("writing the log of run %s failed; retrying", self.run_id, exc_info=True)

    async def flush(self) -> None:
        """Write what is pending in one transaction.

        Raises:
            LeaseLost: another worker holds the run; the batch is dropped (that worker redoes its records).
        """
        async with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            try:
                await self._write(batch)
            except LeaseLost:
                raise
            except BaseException:
                self._pending[:0] = batch
                raise
        async with self._room:
            self._room.notify_all()
        await get_broadcaster().notify(self.run_id)

    async def _write(self, batch: list[RecordResult]) -> None:
        delta: Counter[str] = Counter()
        rows: list[tuple[Any, ...]] = []
        deliveries: list[tuple[Any, ...]] = []
        replaced: list[dict[str, Any]] = []  # a booking corrected or updated: the entry now names the new one
        created: list[tuple[Any, ...]] = []
        settled: list[str] = []
        done: list[str] = []
        doubtful: list[RecordResult] = []
        now = utcnow()
        run_id, flow_id, flow_key = self.run_id, self.flow_id, self.flow_key
        for result in batch:
            delta["read"] += 1
            delta[result.outcome] += 1
            record_id = result.source_id or None
            for entry in result.entries:
                rows.append(
                    (
                        run_id,
                        flow_id,
                        entry["node_id"],
                        entry.get("record_key", ""),
                        entry.get("source_id", ""),
                        record_id,
                        entry["status"],
                        entry.get("message", ""),
                        entry.get("detail") or None,  # encoded by add()
                        False,
                        entry.get("at", now),
                    )
                )
            for delivery in result.deliveries:
                if delivery.get("replace"):
                    row = {"flow_key": flow_key, "run_id": run_id, "created_at": now, "fingerprint": None}
                    row.update(delivery)
                    del row["replace"]
                    replaced.append(row)
                    continue
                deliveries.append(
                    (
                        flow_key,
                        delivery["node_id"],
                        delivery["source_id"],
                        delivery["target_id"],
                        delivery.get("run_id", run_id),
                        delivery.get("created_at", now),
                        delivery.get("fingerprint"),
                    )
                )
            created.extend((*(row[c] for c in _CREATED_GIVEN), now) for row in result.created)
            if result.outcome in ("ok", "skipped"):
                settled.append(result.source_id)
            if result.in_doubt:
                doubtful.append(result)
            else:
                done.append(result.source_id)
        counts = {
            "read_count": delta["read"],
            "ok_count": delta["ok"],
            "skipped_count": delta["skipped"],
            "waiting_count": delta["waiting"],
            "failed_count": delta["failed"],
        }
        # One connection; the rows of each table go to the driver in one executemany (engine.db.BulkInsert).
        held: float | None = None
        async with self.db.writing() as conn:
            if self.lease is not None:
                # First: the run row is locked for this transaction, and nothing is written for a run that another
                # worker has taken over.
                held = await self.lease.hold(conn, added=counts)
            await _LOG_ROWS.execute(conn, rows)
            await _DELIVERY_ROWS.execute(conn, deliveries)
            if replaced:
                dialect = sqlite if self.db.is_sqlite else postgresql
                upsert = dialect.insert(_IDEMPOTENCY)
                keys = ("flow_key", "node_id", "source_id")
                changes = {c: upsert.excluded[c] for c in ("target_id", "fingerprint", "run_id", "created_at")}
                for row in replaced:
                    await conn.execute(upsert.on_conflict_do_update(index_elements=keys, set_=changes), row)
            await _CREATED_ROWS.execute(conn, created)
            if settled and self.flow_id:
                await conn.execute(
                    update(_LOG)
                    .where(
                        _LOG.c.flow_id == self.flow_id,
                        _LOG.c.source_id.in_(settled),
                        _LOG.c.status.in_(("waiting", "failed")),
                        _LOG.c.resolved.is_(False),
                        _LOG.c.run_id != self.run_id,
                    )
                    .values(resolved=True)
                )
            if not self.dry_run:
                await self._settle_intents(conn, done, doubtful)
            if self.lease is None:
                added = {name: _RUN.c[name] + value for name, value in counts.items()}
                await conn.execute(update(_RUN).where(_RUN.c.id == self.run_id).values(heartbeat_at=now, **added))
        if self.lease is not None and held is not None:
            self.lease.held(held)

    async def _settle_intents(self, conn: Any, done: list[str], doubtful: list[RecordResult]) -> None:
        """Delete the delivery intents of records whose outcome is known (kept: targets left in doubt)."""
        for start in range(0, len(done), 500):
            chunk = done[start : start + 500]
            await conn.execute(
                delete(_INTENT).where(_INTENT.c.flow_key == self.flow_key, _INTENT.c.source_id.in_(chunk))
            )
        for result in doubtful:
            await conn.execute(
                delete(_INTENT).where(
                    _INTENT.c.flow_key == self.flow_key,
                    _INTENT.c.source_id == result.source_id,
                    _INTENT.c.node_id.not_in(sorted(result.in_doubt)),
                )
            )

    async def close(self) -> None:
        """Stop the periodic writer — waiting for the batch it is writing, never cancelling it — and write the rest.

        Raises:
            LeaseLost: another worker holds the run (what was pending is dropped).
        """
        self._closed = True
        self._wake.set()
        try:
            if self._task is not None:
                await self._task
            await self.flush()
        finally:
            async with self._room:
                self._room.notify_all()

    async def already_logged(self, source_ids: list[str]) -> set[str]:
        """Which of ``source_ids`` this run finished before (when a run resumes after losing its worker)."""
        if not source_ids:
            return set()
        async with self.db.session() as session:
            result = await session.execute(
                select(LogEntry.source_id)
                .where(LogEntry.run_id == self.run_id, LogEntry.source_id.in_(source_ids))
                .distinct()
            )
            return set(result.scalars())
