"""Automatic recovery of transient failures: a per-flow retry set, independent of the sources' cursors.

A record that fails on a transient error (a 5xx, a timeout, a dropped connection, a 429 still there after the
client's own retries — :attr:`nodes.connectors.http.ApiError.transient`) is put in the flow's retry set with a
backoff (1 min, 5 min, 30 min, 2 h by default). The next runs of the flow whose retry time has come read those
records again **by id** from their source (``record_ids``, the path a backfill by ids uses) before their ordinary
incremental read; the targets' idempotency map and "already there?" checks keep a record from being booked twice.

After the flow's allowed attempts (document setting ``retry_attempts``, default 5) the record leaves the set and its
last failed log entry stays in the inbox with its reason (and the Retry action). Failures that will not pass by
themselves — a refusal (4xx), a mapping problem, a bug — are never retried automatically. While a record waits for
its automatic retry its failed entry is kept out of the inbox (``resolved``), and the log entry says when it will
be retried.

Every write a run makes to the set is fenced by its lease (:mod:`engine.lease`): a worker whose run was taken over
neither adds, settles nor drops a record of the set, so it can never undo what the worker holding the run now wrote.

The run's part in it is summed up in ``Run.params["retries"]`` (``retried``, ``recovered``, ``pending``,
``gave_up``), which ``koppel flow run --json`` prints as ``"retries"``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.lease import LeaseLost
from engine.models import LogEntry, RetryRecord, Run, utcnow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from sqlalchemy.ext.asyncio import AsyncConnection

    from engine.db import Database
    from engine.flow import FlowGraph
    from engine.lease import Lease
    from engine.logsink import RecordResult
    from nodes.base import Record

__all__ = (
    "DEFAULT_ATTEMPTS",
    "DEFAULT_BACKOFF_S",
    "RetryPolicy",
    "RetrySet",
    "is_transient_failure",
    "open_retry_set",
)

log = logging.getLogger("koppel.retryset")

DEFAULT_ATTEMPTS = 5
"""Failed attempts (the first run's included) before a record goes to the inbox."""
DEFAULT_BACKOFF_S: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)
"""Wait before the 2nd, 3rd, 4th and every later attempt."""
MAX_ATTEMPTS = 50
_CHUNK = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How often and when a transient failure is retried (flow document settings ``retry_attempts``,
    ``retry_backoff_s``: seconds, one number or a list, the last repeated)."""

    attempts: int = DEFAULT_ATTEMPTS
    backoff_s: tuple[float, ...] = DEFAULT_BACKOFF_S

    @classmethod
    def of(cls, settings: dict[str, Any] | None) -> RetryPolicy:
        """The policy of a flow's settings; values that make no sense fall back to the defaults."""
        settings = settings if isinstance(settings, dict) else {}
        attempts = settings.get("retry_attempts", DEFAULT_ATTEMPTS)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
            attempts = DEFAULT_ATTEMPTS
        raw = settings.get("retry_backoff_s", DEFAULT_BACKOFF_S)
        values = raw if isinstance(raw, list | tuple) else [raw]
        backoff = tuple(
            float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 7 * 86400
        )
        return cls(attempts=attempts, backoff_s=backoff or DEFAULT_BACKOFF_S)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failure."""
        return timedelta(seconds=self.backoff_s[min(max(attempts, 1), len(self.backoff_s)) - 1])


def is_transient_failure(result: RecordResult) -> bool:
    """Whether every failure of a finished record was transient (the engine marks ``detail.error.transient``)."""
    failed = [e for e in result.entries if e.get("status") == "failed"]
    if not failed:
        return False
    for entry in failed:
        error = (entry.get("detail") or {}).get("error")
        if not isinstance(error, dict) or not error.get("transient"):
            return False
    return True


def _annotate(result: RecordResult, note: str, retry: dict[str, Any]) -> None:
    for entry in result.entries:
        if entry.get("status") == "failed":
            entry["message"] = f"{entry.get('message', '')} — {note}".strip(" —")
            detail = entry.setdefault("detail", {})
            if isinstance(detail, dict):
                detail["retry"] = retry


@dataclass
class _Stats:
    retried: int = 0
    recovered: int = 0
    pending: set[tuple[str, str]] = field(default_factory=set)
    gave_up: set[tuple[str, str]] = field(default_factory=set)
    settled: set[tuple[str, str]] = field(default_factory=set)


class RetrySet:
    """One run's view of its flow's retry set.

    Args:
        db: the database.
        flow_key: the flow (stored flow id, or the document's key for a connections-file run).
        run_id: this run.
        policy: attempts and backoff.
        by_id: the source nodes that can read records by id (only their records are retried automatically).
        read_due: whether this run reads the records whose retry time has come (an ordinary incremental run; not a
            backfill, a webhook run or a run of chosen ids).
        lease: the worker's lease on the run: every write to the set is made only while the run still carries it.
    """

    def __init__(
        self,
        db: Database,
        flow_key: str,
        run_id: str,
        policy: RetryPolicy,
        *,
        by_id: Iterable[str],
        read_due: bool,
        lease: Lease | None = None,
    ) -> None:
        self.db = db
        self.lease = lease
        self.flow_key = flow_key
        self.run_id = run_id
        self.policy = policy
        self.by_id = frozenset(by_id)
        self.read_due = read_due
        self.members: dict[tuple[str, str], int] = {}
        """(source node, source id) → failed attempts so far, as the run found the set."""
        self.due: dict[str, list[str]] = {}
        self.stats = _Stats()
        self._observed: dict[tuple[str, str], str] = {}

    async def load(self, now: datetime | None = None) -> None:
        """Read the flow's set (it holds only records that failed recently, so it is small)."""
        now = now or utcnow()
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(RetryRecord.node_id, RetryRecord.source_id, RetryRecord.attempts, RetryRecord.next_at).where(
                        RetryRecord.flow_key == self.flow_key
                    )
                )
            ).all()
        for node_id, source_id, attempts, next_at in rows:
            self.members[(node_id, source_id)] = attempts
            if self.read_due and node_id in self.by_id and next_at <= now:
                self.due.setdefault(node_id, []).append(source_id)

    def due_ids(self, node_id: str) -> list[str]:
        """The records of ``node_id`` this run reads again by id."""
        ids = self.due.get(node_id, [])
        self.stats.retried += len(ids)
        return ids

    async def observe(self, node_id: str, record: Record, result: RecordResult) -> None:
        """A record is finished: settle it, or (a transient failure) keep it for a later run, with a note in its log
        entry; written before the record's log entry so that a cursor moving past it never loses it."""
        key = (node_id, record.source_id)
        if result.outcome != "failed":
            if key in self.members and self._observed.get(key) != "pending":
                self._observed[key] = "settled"
                self.stats.settled.add(key)
                if result.outcome in ("ok", "skipped"):
                    self.stats.recovered += 1
            return
        if not (is_transient_failure(result) and node_id in self.by_id):
            if key in self.members:  # no longer transient: it goes to the inbox like any failure
                self._observed[key] = "settled"
                self.stats.settled.add(key)
            return
        if key in self._observed:  # read twice in one run (retried and changed again): one attempt
            return
        attempts = self.members.get(key, 0) + 1
        if attempts >= self.policy.attempts:
            self._observed[key] = "gave_up"
            self.stats.gave_up.add(key)
            note = f"gave up after {attempts} automatic attempts; use Retry once the cause is gone"
            _annotate(result, note, {"attempt": attempts, "of": self.policy.attempts, "gave_up": True})
            return
        next_at = utcnow() + self.policy.delay(attempts)
        message = next((e.get("message", "") for e in result.entries if e.get("status") == "failed"), "")
        try:
            await self._save(key, record.key, attempts, next_at, str(message))
        except LeaseLost:
            raise  # another worker holds the run: it decides about this record
        except Exception:  # not kept for a retry: the record stays a plain failure, in the inbox with its reason
            log.warning(
                "record %s could not be put in the retry set of %s", record.source_id, self.flow_key, exc_info=True
            )
            return
        self._observed[key] = "pending"
        self.stats.pending.add(key)
        note = (
            f"will be retried automatically by a later run (attempt {attempts} of {self.policy.attempts}, "
            f"not before {next_at.strftime('%Y-%m-%d %H:%M')} UTC)"
        )
        _annotate(result, note, {"attempt": attempts, "of": self.policy.attempts, "next_at": next_at.isoformat()})

    async def _save(self, key: tuple[str, str], record_key: str, attempts: int, next_at: datetime, error: str) -> None:
        node_id, source_id = key
        now = utcnow()
        values = {
            "flow_key": self.flow_key,
            "node_id": node_id,
            "source_id": source_id,
            "record_key": record_key[:200],
            "attempts": attempts,
            "next_at": next_at,
            "last_error": error[:2000],
            "last_run_id": self.run_id,
            "created_at": now,
            "updated_at": now,
        }
        dialect = sqlite if self.db.is_sqlite else postgresql
        changed = {
            k: values[k] for k in ("record_key", "attempts", "next_at", "last_error", "last_run_id", "updated_at")
        }
        statement = (
            dialect.insert(RetryRecord)
            .values(**values)
            .on_conflict_do_update(index_elements=["flow_key", "node_id", "source_id"], set_=changed)
        )
        async with self._writing() as conn:
            await conn.execute(statement)

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction that first confirms the run is still this worker's (raises :class:`LeaseLost`)."""
        async with self.db.writing() as conn:
            if self.lease is not None:
                await self.lease.hold(conn)
            yield conn

    async def finish(self, *, complete: bool = True) -> dict[str, int]:
        """After the run's log is written: drop settled and given-up records from the set, keep the pending ones out
        of the inbox, and note the figures on the run.

        Args:
            complete: the run read everything it meant to (no error, not cancelled): then a record it asked its
                source for by id and did not get (deleted, or no longer in the statuses the source reads) leaves
                the set too, instead of being asked for at every run.
        """
        gone: set[tuple[str, str]] = set()
        if complete:
            asked = {(node_id, source_id) for node_id, ids in self.due.items() for source_id in ids}
            gone = {key for key in asked if key not in self._observed}
            if gone:
                log.info(
                    "%d records of the retry set of %s are no longer read by their source", len(gone), self.flow_key
                )
        leaving = sorted(self.stats.settled | self.stats.gave_up | gone)
        pending = sorted({source_id for _, source_id in self.stats.pending})
        async with self._writing() as conn:
            for start in range(0, len(leaving), _CHUNK):
                chunk = leaving[start : start + _CHUNK]
                for node_id in {n for n, _ in chunk}:
                    ids = [s for n, s in chunk if n == node_id]
                    await conn.execute(
                        delete(RetryRecord).where(
                            RetryRecord.flow_key == self.flow_key,
                            RetryRecord.node_id == node_id,
                            RetryRecord.source_id.in_(ids),
                        )
                    )
            for start in range(0, len(pending), _CHUNK):
                await conn.execute(
                    update(LogEntry)
                    .where(
                        LogEntry.run_id == self.run_id,
                        LogEntry.source_id.in_(pending[start : start + _CHUNK]),
                        LogEntry.status == "failed",
                    )
                    .values(resolved=True)
                )
            summary = self.summary()
            params = (await conn.execute(select(Run.params).where(Run.id == self.run_id))).scalar_one_or_none()
            params = params if isinstance(params, dict) else {}
            if any(summary.values()) or "retries" in params:
                await conn.execute(
                    update(Run).where(Run.id == self.run_id).values(params={**params, "retries": summary})
                )
        return summary

    def summary(self) -> dict[str, int]:
        """``retried``: records read again from the set; ``recovered``: of those, delivered (or found present);
        ``pending``: failed transiently, retried by a later run; ``gave_up``: out of attempts, now in the inbox."""
        return {
            "retried": self.stats.retried,
            "recovered": self.stats.recovered,
            "pending": len(self.stats.pending),
            "gave_up": len(self.stats.gave_up),
        }


async def open_retry_set(
    db: Database,
    graph: FlowGraph,
    flow_key: str,
    run_id: str,
    params: dict[str, Any],
    *,
    trigger: str = "",
    lease: Lease | None = None,
) -> RetrySet | None:
    """The retry set of a run, loaded; None for a dry run or a test run (they write nothing).

    Every real run keeps its transient failures; only an ordinary run (not a backfill, a webhook run or a run of
    chosen records) also reads the records whose retry is due.
    """
    if params.get("dry_run") or trigger == "test":
        return None
    read_due = not (params.get("record_ids") or params.get("modified_after") or params.get("modified_before"))
    by_id = [source.id for source in graph.sources if getattr(source.cls, "reads_by_id", False)]
    policy = RetryPolicy.of(graph.settings)
    retry_set = RetrySet(db, flow_key, run_id, policy, by_id=by_id, read_due=read_due, lease=lease)
    await retry_set.load()
    return retry_set
