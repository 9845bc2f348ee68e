"""Executes a validated flow: sources read page by page, every record walks the graph node by node.

Records are handled by a fixed pool of workers fed from a bounded queue, so a run over 100,000 records holds a few
pages in memory (a page whose records must ask a target "already there?" is walked at once instead, so that the
questions go out together, one list per page). Each record is isolated: a problem at one node ends that record's
journey (logged with its reason) and the run goes on. Targets consult the idempotency map, then the application
itself, before writing; a dry run stops at ``build``. A source's cursor advances only past pages whose records are
all finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.connections import ClientPool
from engine.db import BulkInsert
from engine.flow import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, FlowGraph, GraphNode
from engine.lease import Lease, LeaseLost
from engine.logsink import OUTCOME_ORDER, LogSink, RecordResult
from engine.models import CreatedRecord, Cursor, IdempotencyEntry, Intent, TargetTrust, utcnow
from engine.settings import SmtpSettings, get_settings
from nodes import jsoncodec
from nodes.base import (
    Booked,
    Deliveries,
    Delivery,
    Node,
    NodeContext,
    ProcessNode,
    Record,
    RecordProblem,
    SkipRecord,
    SourceNode,
    TargetNode,
)
from nodes.connectors.limiter import HELD, Room
from nodes.echo import Origin
from nodes.texts import shown

if TYPE_CHECKING:
    from engine.db import Database
    from engine.retryset import RetrySet

__all__ = ("ClientPool", "RunCancelled", "RunContext", "execute_graph")

log = logging.getLogger("koppel.runner")


class RunCancelled(Exception):
    pass


class DbCursor:
    """A source's stored cursor. ``before_write`` is awaited before the cursor moves: the engine commits the log
    and idempotency entries of the records the cursor passes first, so a crash never leaves a record behind the
    cursor without its entries.

    A run moves the cursor only from the position it read: when a person saved another position while the run was
    going (the flow's settings page), the person's position wins and the run's move is left out (its records are
    in the idempotency map, so reading them again books nothing twice).
    """

    def __init__(
        self,
        db: Database,
        flow_key: str,
        node_id: str,
        *,
        read_only: bool,
        before_write: Callable[[], Awaitable[None]] | None = None,
        lease: Lease | None = None,
    ) -> None:
        self.db, self.flow_key, self.node_id, self.read_only = db, flow_key, node_id, read_only
        self.before_write = before_write
        self.lease = lease
        self._read = False
        self._known: str | None = None
        """The value this run last read or wrote (the cursor moves only from there)."""

    async def get(self) -> str | None:
        async with self.db.session() as session:
            row = await session.get(Cursor, (self.flow_key, self.node_id))
            self._read, self._known = True, (row.value if row else None)
            return self._known

    async def set(self, value: str) -> None:
        if self.read_only:
            return
        if self.before_write is not None:
            await self.before_write()
        table = cast(Table, Cursor.__table__)
        async with self.db.writing() as conn:
            if self.lease is not None:
                await self.lease.hold(conn)
            dialect = sqlite if self.db.is_sqlite else postgresql
            now = utcnow()
            row = {"flow_key": self.flow_key, "node_id": self.node_id, "value": value, "updated_at": now}
            insert = dialect.insert(table).values(row)
            if not self._read:
                await conn.execute(
                    insert.on_conflict_do_update(
                        index_elements=["flow_key", "node_id"], set_={"value": value, "updated_at": now}
                    )
                )
            elif self._known is None:
                moved = (await conn.execute(insert.on_conflict_do_nothing())).rowcount == 0
            else:
                result = await conn.execute(
                    update(table)
                    .where(
                        table.c.flow_key == self.flow_key,
                        table.c.node_id == self.node_id,
                        table.c.value == self._known,
                    )
                    .values(value=value, updated_at=now)
                )
                moved = result.rowcount == 0
            if self._read and moved:
                log.info(
                    "cursor of %s/%s was moved during the run; the saved position stays", self.flow_key, self.node_id
                )
                self.read_only = True  # the rest of this run leaves the person's position alone
                return
        self._known = value


@dataclass
class RunContext(NodeContext):
    """The :class:`~nodes.base.NodeContext` the engine hands to nodes."""

    flow_key: str
    run_id: str
    db: Database
    clients: ClientPool
    dry_run: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    before_cursor_write: Callable[[], Awaitable[None]] | None = None
    """Awaited before a source's cursor moves (:func:`execute_graph` sets it to the log sink's flush)."""
    retry_set: RetrySet | None = None
    """The flow's retry set (:mod:`engine.retryset`): records it holds are read again, transient failures kept."""
    lease: Lease | None = None
    """The worker's lease on the run: every write for the run is fenced by it (engine.lease)."""
    smtp: SmtpSettings | None = field(default_factory=lambda: get_settings().smtp)
    """Where the run's e-mail goes (the e-mail step, :class:`nodes.mail.MailContext`); None: e-mail is not set up."""
    records: Callable[[list[str], str | type[Node]], Awaitable[Deliveries]] | None = None
    """Answers :meth:`deliveries` from the run's own records (:func:`execute_graph` sets it); None: nothing known."""

    def client(self, connection: str) -> Any:
        return self.clients.get(connection)

    def cursor(self, node_id: str) -> DbCursor:
        # A dry run, a backfill or an explicit list of records must not move the incremental cursor.
        read_only = self.dry_run or bool(self.params.get("record_ids")) or bool(self.params.get("modified_after"))
        return DbCursor(
            self.db,
            self.flow_key,
            node_id,
            read_only=read_only,
            before_write=self.before_cursor_write,
            lease=self.lease,
        )

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def deliveries(self, source_ids: Sequence[str], *, after: str | type[Node]) -> Deliveries:
        if self.records is None:
            return Deliveries()
        return await self.records(list(source_ids), after)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else type(exc).__name__


def _journey(source: dict[str, Any], steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each node's output (capped by the log sink); a node that passed the record on unchanged (a source, a filter)
    says only that, so the same order is not stored three times in one log entry. A step with several outputs
    names the one the record left by (``"port": "discarded"``)."""
    journey: list[dict[str, Any]] = []
    previous: Any = source
    for step in steps:
        output = step["output"]
        shown: dict[str, Any] = {"node": step["node"]}
        if output is previous:
            shown["unchanged"] = True
        else:
            shown["output"] = output
        if "port" in step:
            shown["port"] = step["port"]
        journey.append(shown)
        previous = output
    return journey


class _Lookup:
    """The "already there?" questions of one page's records to one target, asked in one
    :meth:`~nodes.base.TargetNode.find_existing_many` once every record of the page has either asked or gone past
    the target (walks reach nodes in one topological order, so no record waits for one that waits behind it).

    Args:
        node: the target.
        size: the records of the page.
    """

    def __init__(self, node: TargetNode, size: int) -> None:
        self.node = node
        self.size = size
        self.waiting: list[tuple[Record, asyncio.Future[str | None]]] = []
        self.settled: set[str] = set()
        """Page records (by source id) that asked or will not ask any more."""
        self.task: asyncio.Task[None] | None = None

    async def ask(self, page_record: str, record: Record) -> str | None:
        if self.task is not None:  # asked already (a record the page did not count): on its own
            return await self.node.find_existing(record)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.waiting.append((record, future))
        self.passed(page_record)
        return await future

    def passed(self, page_record: str) -> None:
        """A record of the page has asked, or will not ask this target."""
        self.settled.add(page_record)
        if self.task is None and len(self.settled) >= self.size:
            self.task = asyncio.create_task(self._answer())

    async def _answer(self) -> None:
        waiting, self.waiting = self.waiting, []
        if not waiting:
            return
        try:
            answers = await self.node.find_existing_many([record for record, _ in waiting])
        except Exception:  # each record asks on its own and meets the error (or not) itself
            log.debug("asking %d records at once failed; asking one by one", len(waiting), exc_info=True)
            answers = None
        for index, (record, future) in enumerate(waiting):
            if future.done():
                continue
            if answers is not None and index < len(answers):
                future.set_result(answers[index])
                continue
            try:
                future.set_result(await self.node.find_existing(record))
            except Exception as exc:
                future.set_exception(exc)


@dataclass
class _Page:
    source: GraphNode
    records: list[Record]
    remaining: int
    done: asyncio.Event = field(default_factory=asyncio.Event)
    delivered: dict[tuple[str, str], str] = field(default_factory=dict)
    """(target node, source id) → target id, read from the idempotency map once for the whole page."""
    fingerprints: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(target node, source id) → the fingerprint kept with the delivery, where the target kept one."""
    echoes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """source id → why the record is Koppel's own writing coming back (English, Dutch): the echo guard."""
    in_doubt: set[tuple[str, str]] = field(default_factory=set)
    """(target node, source id) with a delivery intent left by an earlier attempt: the target may hold it."""
    noted: set[tuple[str, str]] = field(default_factory=set)
    """(target node, source id) whose delivery intent this page wrote: no earlier attempt left one, and it covers
    whatever the record's walk delivers there, also under an id a map derived from the record's (its intents are
    settled with the record's outcome)."""
    ids: set[str] = field(init=False)
    """The source ids of the page's records: the ids intents are noted for (a map may derive others)."""
    lookups: dict[str, _Lookup] = field(default_factory=dict)
    """target node → the page's "already there?" questions to it, asked together (see :class:`_Lookup`)."""

    def __post_init__(self) -> None:
        self.ids = {r.source_id for r in self.records}

    def handled(self) -> None:
        """Every record of the page is finished: keep only what its cursor commit needs, the records' keys and source
        ids. A page waits for its commit behind the pages read before it, however long one of their records takes (a
        Retry-After, a timeout); each holding its records as read, the pages behind one slow record piled up at the
        run's pace."""
        self.records = [Record(key=r.key, source_id=r.source_id, data={}) for r in self.records]
        self.done.set()


RECORDS_FLOOR = 32
"""Records in flight at the least when the flow sets no concurrency. A record is cheap; what the application feels
is the requests, which each connection's adaptive limit holds. Records waiting out a Retry-After or a retry's backoff
hold no request slot, and lend their place here meanwhile (``limiter.away``: up to as many again), so the others go
on: with records tied to a limit that a rate-limited application pushes down, the first run under mixed faults
(tests/engine/test_mixed_faults.py) took 8.2x the clean run, with this floor 3.7x (64 gave no better)."""


@dataclass
class _Walk:
    """The record being walked, for what its nodes ask of the run's own records (:meth:`RunContext.deliveries`)."""

    page: _Page
    result: RecordResult
    known: dict[tuple[str, str], Booked | None] = field(default_factory=dict)
    """(target node, id a map derived) → its idempotency entry, read once for the walk (None: there is none)."""


_INTENT_ROWS = BulkInsert(
    lambda dialect: (sqlite if dialect == "sqlite" else postgresql).insert(Intent.__table__).on_conflict_do_nothing(),
    ("flow_key", "node_id", "source_id", "run_id", "created_at"),
)
"""The delivery intents of a page, noted in one write (:meth:`_Execution._note_intents`)."""

_WALK: ContextVar[_Walk | None] = ContextVar("koppel_walk", default=None)
"""The walk of the current task (each worker walks one record at a time)."""


def _derived(source_id: str, page_id: str) -> bool:
    """Whether a map derived ``source_id`` from the page record's id ("order:49:refunds:5020" from "order:49")."""
    return source_id.startswith(page_id + ":")


def _following(limit: int | None) -> int:
    """Records in flight for a connection limit of ``limit`` requests: a quarter more (at least two), so that a
    record is always ready when a request slot frees up — the connection's limit only grows while all its slots are
    in use — and never fewer than :data:`RECORDS_FLOOR`. Before any connection is used: the starting limit."""
    limit = limit or DEFAULT_CONCURRENCY
    return min(MAX_CONCURRENCY, max(RECORDS_FLOOR, limit + max(2, limit // 4)))


class _Execution:
    def __init__(
        self,
        graph: FlowGraph,
        ctx: RunContext,
        sink: LogSink,
        *,
        concurrency: int | None,
        resumed: bool,
        cancelled: Callable[[], bool],
        on_expected: Callable[[int], Awaitable[None]] | None,
    ) -> None:
        self.graph = graph
        self.ctx = ctx
        self.sink = sink
        self.workers = max(1, concurrency) if concurrency is not None else MAX_CONCURRENCY
        """Records in flight at most: the flow's setting, if any."""
        self.read_ahead = max(self.workers * 4, 200) if concurrency is not None else 200
        """Records read but not started at most: about two pages."""
        self.width = Room(lambda: min(self.workers, _following(ctx.clients.limit())))
        """Records in flight now: following the adaptive limits of the run's connections, within :attr:`workers`."""
        self.resumed = resumed
        self.cancelled = cancelled
        self.on_expected = on_expected
        self.instances: dict[str, Node] = {}
        self.limit: int | None = ctx.params.get("limit")
        self.read = 0
        self.lease = ctx.lease
        self.noted: list[str] = []
        """Targets whose deliveries are noted before they are sent (create-once targets whose ``find_existing``
        only answers "is it there?"): for them the application is asked only when in doubt."""
        self.trusted: set[str] = set()
        """Of :attr:`noted`, those whose deliveries this database knows completely (see TargetTrust)."""
        self.empty: set[str] = set()
        """Of :attr:`trusted`, those trusted since the application held nothing (reason ``empty``): every document in
        it came through this flow's records, also those a map found there itself ("this refund is credited"). A
        target trusted after a run that checked every record knows the records that reached it, not what a map
        found in the application: there a map's question and an id a map derived are still asked."""
        self.complete = False
        """Every source was read to its end (no limit, cancellation or lost lease stopped the run)."""
        self.scopes: dict[str, str] = {}
        """Step id → the store or administration its connection reaches (:meth:`_scope`, asked per delivery)."""
        self.after: dict[str | type[Node], list[str]] = {}
        """Step id or node type → the targets its records reach first (:meth:`_targets_after`)."""

    def stopped(self) -> bool:
        """Cancelled, or the lease is lost: no record starts any more."""
        return self.cancelled() or (self.lease is not None and self.lease.lost)

    async def run(self) -> None:
        for node_id in self.graph.order:
            gnode = self.graph.nodes[node_id]
            self.instances[node_id] = gnode.cls(node_id, gnode.config, self.ctx)
        opened: list[Node] = []
        try:
            for node in self.instances.values():
                await node.open()
                opened.append(node)
            if self.on_expected is not None:
                await self._report_expected()
            await self._load_trust()
            for source in self.graph.sources:
                await self._run_retries(source)
                await self._run_source(source)
                if self._limit_reached() or self.stopped():
                    break
            else:
                self.complete = not self.stopped()
        finally:
            for node in reversed(opened):
                with contextlib.suppress(Exception):
                    await node.close()
        if self.lease is not None and self.lease.lost:
            raise LeaseLost(f"run {self.ctx.run_id} lost its lease")
        if self.cancelled():
            raise RunCancelled

    async def _report_expected(self) -> None:
        total = 0
        for source in self.graph.sources:
            node = self.instances[source.id]
            assert isinstance(node, SourceNode)
            try:
                expected = await node.expected()
            except Exception:  # a failing count must not fail the run; reading will say what is wrong
                expected = None
            if expected is None:
                return
            total += expected
        if self.limit is not None:
            total = min(total, self.limit)
        assert self.on_expected is not None
        await self.on_expected(total)

    def _limit_reached(self) -> bool:
        return self.limit is not None and self.read >= self.limit

    async def _run_retries(self, source: GraphNode) -> None:
        """Read again, by id, the records of this source whose automatic retry is due (engine.retryset)."""
        retry_set = self.ctx.retry_set
        ids = retry_set.due_ids(source.id) if retry_set is not None else []
        if not ids or self._limit_reached() or self.cancelled():
            return
        ctx = dataclasses.replace(self.ctx, params={**self.ctx.params, "record_ids": ids})
        node = source.cls(source.id, source.config, ctx)
        assert isinstance(node, SourceNode)
        await node.open()
        try:
            await self._run_source(source, node)
        finally:
            with contextlib.suppress(Exception):
                await node.close()

    async def _run_source(self, source: GraphNode, node: SourceNode | None = None) -> None:
        if node is None:
            instance = self.instances[source.id]
            assert isinstance(instance, SourceNode)
            node = instance
        # Room for about two pages: the next page is fetched while this one is worked on, and memory stays bounded.
        queue: asyncio.Queue[tuple[_Page, Record] | None] = asyncio.Queue(maxsize=self.read_ahead)
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.workers)]
        pages: asyncio.Queue[_Page | None] = asyncio.Queue()
        committer = asyncio.create_task(self._commit_cursors(node, pages))
        try:
            async for records in node.read():
                if self.stopped():
                    break
                if self.limit is not None:
                    records = records[: max(0, self.limit - self.read)]
                self.read += len(records)
                if self.resumed and records:
                    done = await self.sink.already_logged([r.source_id for r in records])
                    records = [r for r in records if r.source_id not in done]
                page = _Page(source, records, remaining=len(records))
                page.delivered, page.fingerprints = await self._delivered([r.source_id for r in records])
                page.echoes = await self._echoes(node, records)
                page.in_doubt = await self._note_intents(page)
                page.lookups = self._lookups(page)
                await pages.put(page)
                if not records:
                    page.done.set()
                if page.lookups:
                    await self._process_together(page)
                for record in records if not page.lookups else ():
                    await queue.put((page, record))
                if self._limit_reached():
                    break
        finally:
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
            await pages.put(None)
            await committer

    async def _commit_cursors(self, node: SourceNode, pages: asyncio.Queue[_Page | None]) -> None:
        while (page := await pages.get()) is not None:
            await page.done.wait()
            if self.stopped():
                continue
            await node.commit_cursor(page.records)

    async def _worker(self, queue: asyncio.Queue[tuple[_Page, Record] | None]) -> None:
        HELD.set(self.width)  # this task's place: lent while its record only waits out a retry (limiter.away)
        while True:
            # Room first, then a record: a worker waiting for room holds no record (and the reader reads no further
            # ahead for it).
            await self.width.enter()
            try:
                item = await queue.get()
            except BaseException:
                self.width.leave()
                raise
            if item is None:
                self.width.leave()
                return
            try:
                await self._process(*item)
            finally:
                self.width.leave()

    async def _process(self, page: _Page, record: Record) -> None:
        """Walk one record and hand its result to the retry set and the log."""
        try:
            if not self.stopped():
                try:
                    result = await self._walk(page, record)
                except LeaseLost:
                    return  # the worker that holds the run now redoes the record; nothing is logged here
                except (asyncio.CancelledError, RunCancelled):
                    raise
                except Exception as exc:  # a bug in the engine itself: still log the record, keep going
                    log.exception("engine error on record %s", record.key)
                    entry = {
                        "node_id": page.source.id,
                        "record_key": record.key[:200],
                        "source_id": record.source_id,
                        "status": "failed",
                        "message": f"internal error: {_error_text(exc)}",
                    }
                    result = RecordResult(source_id=record.source_id, outcome="failed", entries=[entry])
                try:
                    if self.ctx.retry_set is not None:
                        await self.ctx.retry_set.observe(page.source.id, record, result)
                    await self.sink.add(result)
                except LeaseLost:
                    return
        finally:
            for lookup in page.lookups.values():
                lookup.passed(record.source_id)
            page.remaining -= 1
            if page.remaining == 0:
                page.handled()

    async def _process_together(self, page: _Page) -> None:
        """Walk every record of a page at once, so that their "already there?" questions to a target can be asked
        together (:class:`_Lookup`); the connectors' own limits bound the requests in flight."""
        tasks = [asyncio.create_task(self._process(page, record)) for record in page.records]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _walk(self, page: _Page, record: Record) -> RecordResult:
        """Carry one record from its source through every node it reaches, in topological order."""
        result = RecordResult(source_id=record.source_id, outcome="skipped")
        token = _WALK.set(_Walk(page, result))
        try:
            return await self._walk_steps(page, record, result)
        finally:
            _WALK.reset(token)

    async def _walk_steps(self, page: _Page, record: Record, result: RecordResult) -> RecordResult:
        source = page.source
        echo = page.echoes.get(record.source_id)
        if echo is not None:
            skipped: dict[str, Any] = {
                "node_id": source.id,
                "record_key": record.key[:200],
                "source_id": record.source_id,
                "status": "skipped",
                "message": echo[0],
                "detail": {"echo": {"en": echo[0], "nl": echo[1]}, "input": record.source},
            }
            result.entries.append(skipped)
            return result
        record.context.setdefault("source_app", self.instances[source.id].app)
        outcomes: list[str] = []
        inbox: dict[str, list[tuple[Record, list[dict[str, Any]]]]] = {}
        steps0 = [{"node": source.id, "output": record.data}]
        for child in source.outs.get(source.default_output, []):
            inbox.setdefault(child, []).append((record, steps0))
        for node_id in self.graph.order:
            arrivals = inbox.pop(node_id, None)
            lookup = page.lookups.get(node_id)
            if lookup is not None and not arrivals:
                lookup.passed(record.source_id)  # the record does not reach this target: nobody waits for it
            if not arrivals:
                continue
            gnode = self.graph.nodes[node_id]
            node = self.instances[node_id]
            if isinstance(node, TargetNode):
                arrivals = arrivals[:1]  # one record reaches a target once per run, however many wires lead there
            for incoming, steps in arrivals:
                outgoing, status, port = await self._visit(node, gnode, incoming, steps, result, page)
                if status is not None:
                    outcomes.append(status)
                if outgoing is not None:
                    step: dict[str, Any] = {"node": node_id, "output": outgoing.data}
                    if len(gnode.outs) > 1 or port != gnode.default_output:
                        step["port"] = port
                    next_steps = [*steps, step]
                    for child in gnode.outs.get(port, []):
                        inbox.setdefault(child, []).append((outgoing, next_steps))
        for status in OUTCOME_ORDER:
            if status in outcomes:
                result.outcome = status
                break
        if len(result.entries) > 1:
            # One line per record: a branch that merely did not apply (a filter on a side path) is not logged
            # beside the record's outcome; a record skipped on every branch keeps the first branch's reason.
            kept = [e for e in result.entries if e["status"] != "skipped"] or result.entries[:1]
            result.entries = kept
        return result

    async def _visit(
        self,
        node: Node,
        gnode: GraphNode,
        record: Record,
        steps: list[dict[str, Any]],
        result: RecordResult,
        page: _Page,
    ) -> tuple[Record | None, str | None, str]:
        """Run one node on one record; returns what goes on (if anything), the terminal status (if any) and the
        output the record leaves by."""
        started = time.time()  # when this record was handled here, not when its batch was written
        entry: dict[str, Any] = {}  # filled in only when the record stops here (most nodes pass it on)
        detail: dict[str, Any] = {}
        outgoing: Record | None = None
        port = gnode.default_output
        try:
            if isinstance(node, TargetNode):
                outgoing, status = await self._deliver(node, gnode, record, entry, detail, result, page)
            else:
                assert isinstance(node, ProcessNode)
                port, outgoing = await node.route(record)
                if gnode.outs.get(port):
                    return outgoing, None, port
                raise SkipRecord(f"{gnode.name}: the record leaves by {shown(port)}, where no wire leads")
        except RecordProblem as problem:
            other = problem.port if isinstance(problem, SkipRecord) else None
            if other is not None and gnode.outs.get(other):
                return record, None, other  # the node's other way out (a filter's "discarded") is wired
            status = problem.status
            entry["message"] = problem.message
            detail.update(problem.detail)
            outgoing = None
        except (asyncio.CancelledError, RunCancelled, LeaseLost):
            raise
        except Exception as exc:
            if self.lease is not None and self.lease.lost:
                raise LeaseLost(f"run {self.ctx.run_id} lost its lease") from exc
            log.debug("record %s failed at %s", record.key, gnode.id, exc_info=True)
            status = "failed"
            entry["message"] = _error_text(exc)
            detail["error"] = {"type": type(exc).__name__, "message": _error_text(exc)}
            if getattr(exc, "transient", False) is True:  # may pass by itself: retried by a later run
                detail["error"]["transient"] = True
        warnings = (outgoing or record).warnings
        if warnings:
            detail["warnings"] = list(warnings)
            if status == "ok":
                entry["message"] = "; ".join([entry.get("message", ""), *warnings]).strip("; ")
        detail["input"] = record.source
        detail["steps"] = _journey(record.source, steps)
        entry.update(
            node_id=gnode.id,
            record_key=record.key[:200],
            source_id=record.source_id,
            at=datetime.fromtimestamp(started, UTC),
            status=status,
            detail=detail,
        )
        result.entries.append(entry)
        return outgoing, status, port

    async def _deliver(
        self,
        node: TargetNode,
        gnode: GraphNode,
        record: Record,
        entry: dict[str, Any],
        detail: dict[str, Any],
        result: RecordResult,
        page: _Page,
    ) -> tuple[Record | None, str]:
        lookup = page.lookups.get(gnode.id)
        must_ask = self._must_ask(page, gnode.id, record.source_id, result.source_id)
        if lookup is not None and ((gnode.id, record.source_id) in page.delivered or not must_ask):
            lookup.passed(result.source_id)  # this record will not ask: the others need not wait for it
        if not node.upsert:
            booked = page.delivered.get((gnode.id, record.source_id))
            fingerprint = page.fingerprints.get((gnode.id, record.source_id))
            if booked is None and not must_ask and record.source_id != result.source_id:
                # an id a map derived, posted without asking: the idempotency map must not hold it either
                derived = (await self._known([gnode.id], [record.source_id])).get((gnode.id, record.source_id))
                if derived is not None:
                    booked, fingerprint = derived.target_id, derived.fingerprint or None
            known = booked
            if known is not None:
                if fingerprint is None:
                    raise SkipRecord(f"already delivered as {known}", target_id=known)
                if self.lease is not None and not self.ctx.dry_run:
                    # A revisit may write (a concept updated, a correction booked): only while the lease is ours.
                    # It needs no delivery intent: what it creates is looked up by its exact description first.
                    await self.lease.ensure()
                delivery = await node.revisit(record, Booked(known, fingerprint))
                return self._delivered_now(node, gnode, record, entry, detail, result, delivery), "ok"
        if must_ask:
            if lookup is not None:
                existing = await lookup.ask(result.source_id, record)
            else:
                existing = await node.find_existing(record)
            if existing is not None:
                if not self.ctx.dry_run:
                    result.deliveries.append(
                        {"node_id": gnode.id, "source_id": record.source_id, "target_id": existing}
                    )
                    self._note_created(node, record, existing, result)
                what = getattr(node, "what", "")
                raise SkipRecord(f"already exists as {what + ' ' if what else ''}{existing}", target_id=existing)
        payload = await node.build(record)
        detail["request"] = payload
        if self.ctx.dry_run:
            entry["message"] = node.outcome(record, None) or "dry run: would send"
            detail["dry_run"] = True
            return record, "ok"
        if self.lease is not None:
            await self.lease.ensure()
        # Until send returns, the target may or may not hold the record: its delivery intent stays unless it does.
        result.in_doubt.add(gnode.id)
        delivery = await node.send(record, payload)
        result.in_doubt.discard(gnode.id)
        return self._delivered_now(node, gnode, record, entry, detail, result, delivery), "ok"

    def _delivered_now(
        self,
        node: TargetNode,
        gnode: GraphNode,
        record: Record,
        entry: dict[str, Any],
        detail: dict[str, Any],
        result: RecordResult,
        delivery: Delivery,
    ) -> Record:
        """Log a delivery and note it for the idempotency map (with its fingerprint, replacing the old entry when
        the delivery replaces a booking) and for the echo guard."""
        if delivery.request is not None:
            detail["request"] = delivery.request
        detail["response"] = delivery.response
        entry["message"] = (
            delivery.message or node.outcome(record, delivery.target_id) or f"delivered as {delivery.target_id}"
        )
        if not self.ctx.dry_run:
            noted: dict[str, Any] = {
                "node_id": gnode.id,
                "source_id": record.source_id,
                "target_id": delivery.target_id,
            }
            if delivery.fingerprint is not None:
                noted["fingerprint"] = jsoncodec.dumps(delivery.fingerprint)
            if delivery.replaces:
                noted["replace"] = True
            result.deliveries.append(noted)
            self._note_created(node, record, delivery.target_id, result)
        out = record.derive(record.data)
        out.context.setdefault("targets", {})[gnode.id] = delivery.target_id
        return out

    def _scope(self, node: Node) -> str:
        scope = self.scopes.get(node.id)
        if scope is None:
            names = type(node).connection_names(node.config)
            scope = self.scopes[node.id] = self.ctx.clients.scope(names[0]) if names else ""
        return scope

    def _note_created(self, node: TargetNode, record: Record, target_id: str, result: RecordResult) -> None:
        """Remember a record this target created (or found made before), for the echo guard."""
        if not node.creates or not node.app:
            return
        result.created.append(
            {
                "app": node.app,
                "scope": self._scope(node),
                "record_id": f"{node.creates}:{target_id}",
                "source_app": str(record.context.get("source_app") or ""),
                "source_id": record.source_id,
                "source_key": record.key[:200],
                "flow_key": self.ctx.flow_key,
                "flow_name": self.graph.name[:200],
                "run_id": self.ctx.run_id,
            }
        )

    async def _echoes(self, node: SourceNode, records: list[Record]) -> dict[str, tuple[str, str]]:
        """The records of a page that Koppel itself wrote into the source's application (the echo guard): known
        from the table of created records, else from Koppel's mark in the record itself."""
        if not records:
            return {}
        found: dict[str, Origin] = {}
        if node.app:
            async with self.ctx.db.session() as session:
                rows = await session.execute(
                    select(
                        CreatedRecord.record_id,
                        CreatedRecord.source_app,
                        CreatedRecord.source_id,
                        CreatedRecord.source_key,
                        CreatedRecord.flow_name,
                    ).where(
                        CreatedRecord.app == node.app,
                        CreatedRecord.scope == self._scope(node),
                        CreatedRecord.record_id.in_([r.source_id for r in records]),
                    )
                )
                for record_id, app, source_id, key, flow in rows:
                    found[record_id] = Origin(app, source_id, key, flow)
        for record in records:
            if record.source_id not in found:
                origin = node.origin(record)
                if origin is not None:
                    found[record.source_id] = origin
        return {source_id: origin.message() for source_id, origin in found.items()}

    async def _delivered(
        self, source_ids: list[str]
    ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dict[str, Any]]]:
        """What the idempotency map knows of these records, for every target that is not an upsert: the target ids,
        and the fingerprints kept with them."""
        targets = [nid for nid, node in self.instances.items() if isinstance(node, TargetNode) and not node.upsert]
        if not targets or not source_ids:
            return {}, {}
        delivered: dict[tuple[str, str], str] = {}
        fingerprints: dict[tuple[str, str], dict[str, Any]] = {}
        for node_id, source_id, booked in await self._entries(targets, source_ids):
            delivered[(node_id, source_id)] = booked.target_id
            if booked.fingerprint:
                fingerprints[(node_id, source_id)] = booked.fingerprint
        return delivered, fingerprints

    async def _entries(self, targets: list[str], source_ids: list[str]) -> list[tuple[str, str, Booked]]:
        """The idempotency entries of these records at these targets: (target, source id, what was delivered)."""
        async with self.ctx.db.session() as session:
            rows = await session.execute(
                select(
                    IdempotencyEntry.node_id,
                    IdempotencyEntry.source_id,
                    IdempotencyEntry.target_id,
                    IdempotencyEntry.fingerprint,
                ).where(
                    IdempotencyEntry.flow_key == self.ctx.flow_key,
                    IdempotencyEntry.node_id.in_(targets),
                    IdempotencyEntry.source_id.in_(source_ids),
                )
            )
            return [(n, s, Booked(t, _fingerprint(f))) for n, s, t, f in rows]

    def _lookups(self, page: _Page) -> dict[str, _Lookup]:
        """The targets this page's records will ask "already there?" (a target not trusted, or records in doubt)
        and that can answer for many records in one request: their questions are asked together."""
        if self.ctx.dry_run or len(page.records) < 2:
            return {}
        doubted = {node_id for node_id, _ in page.in_doubt}
        lookups: dict[str, _Lookup] = {}
        for node_id in self.noted:
            node = self.instances[node_id]
            assert isinstance(node, TargetNode)
            batches = type(node).find_existing_many is not TargetNode.find_existing_many
            if batches and (node_id not in self.trusted or node_id in doubted):
                lookups[node_id] = _Lookup(node, len(page.ids))
        return lookups

    def _must_ask(self, page: _Page, node_id: str, source_id: str, page_id: str) -> bool:
        """Whether ``find_existing`` is asked: always, except for a noted target this database knows completely and a
        record with no intent left over (then it has never been sent, by this database or anyone else).

        A record a map gave an id of its own, derived from the page record's ("order:49:refunds:5020"), is covered by
        the page record's intent at a target trusted since it was empty (:attr:`empty`) when this page wrote it
        (:attr:`_Page.noted`): every earlier walk that delivered under a derived id did so under an intent of its own
        page, settled together with the idempotency entry or left in doubt. Its idempotency entry is read before it
        is posted (:meth:`_deliver`)."""
        if self.ctx.dry_run or node_id not in self.trusted:
            return True
        if source_id == page_id:
            return page_id not in page.ids or (node_id, source_id) in page.in_doubt
        return not (node_id in self.empty and _derived(source_id, page_id) and (node_id, page_id) in page.noted)

    def _targets_after(self, after: str | type[Node]) -> list[str]:
        """The targets that records leaving ``after`` (a step id, or every step of a node type) reach first: the
        steps between may be filters, maps and lookups; a target's own outputs lead past what it delivered."""
        cached = self.after.get(after)
        if cached is not None:
            return cached
        if isinstance(after, str):
            starts = [after] if after in self.graph.nodes else []
        else:
            starts = [nid for nid in self.graph.order if issubclass(self.graph.nodes[nid].cls, after)]
        seen, todo, found = set(starts), list(starts), set()
        while todo:
            for children in self.graph.nodes[todo.pop()].outs.values():
                for child in children:
                    if child in seen:
                        continue
                    seen.add(child)
                    if isinstance(self.instances.get(child), TargetNode):
                        found.add(child)
                    else:
                        todo.append(child)
        self.after[after] = sorted(found)
        return self.after[after]

    async def deliveries(self, source_ids: list[str], after: str | type[Node]) -> Deliveries:
        """:meth:`nodes.base.NodeContext.deliveries` for the record being walked: what the idempotency map and the
        walk's own deliveries hold, and whether an absence can be believed — as for a target's own "already there?"
        (:meth:`_must_ask`): each target trusted since it was empty (:attr:`empty`), and the page's intent for the
        record noted by this page (no earlier attempt left one in doubt) and not left in doubt by this walk."""
        walk = _WALK.get()
        targets = self._targets_after(after)
        if walk is None or not targets or not source_ids:
            return Deliveries()
        page_id = walk.result.source_id
        known = await self._known(targets, source_ids)
        booked: dict[str, Booked] = {}
        for (_, source_id), hit in known.items():
            if hit is not None:
                booked.setdefault(source_id, hit)

        def covered(node_id: str) -> bool:
            node = self.instances[node_id]
            return (
                isinstance(node, TargetNode)
                and not node.upsert
                and node_id in self.empty
                and node_id not in walk.result.in_doubt
                and (node_id, page_id) in walk.page.noted
            )

        complete = not self.ctx.dry_run and all(
            source_id in booked or ((source_id == page_id or _derived(source_id, page_id)) and covered(node_id))
            for node_id in targets
            for source_id in source_ids
        )
        return Deliveries(booked, complete)

    async def _known(self, targets: list[str], source_ids: list[str]) -> dict[tuple[str, str], Booked | None]:
        """What the idempotency map and the current walk's deliveries hold for each (target, source id): the page's
        records from what the page read, other ids from the database (once per walk)."""
        walk = _WALK.get()
        assert walk is not None
        page = walk.page
        answers: dict[tuple[str, str], Booked | None] = {}
        missing: list[tuple[str, str]] = []
        for node_id in targets:
            node = self.instances[node_id]
            if not isinstance(node, TargetNode) or node.upsert:
                continue
            for source_id in source_ids:
                key = (node_id, source_id)
                if key in walk.known:
                    answers[key] = walk.known[key]
                elif source_id in page.ids:
                    target_id = page.delivered.get(key)
                    answers[key] = None if target_id is None else Booked(target_id, page.fingerprints.get(key) or {})
                else:
                    missing.append(key)
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            found: dict[tuple[str, str], Booked | None] = dict.fromkeys(chunk)
            entries = await self._entries(sorted({n for n, _ in chunk}), sorted({s for _, s in chunk}))
            for node_id, source_id, booked in entries:
                if (node_id, source_id) in found:
                    found[(node_id, source_id)] = booked
            walk.known.update(found)  # only once read: a failed read leaves nothing believed
            answers.update(found)
        for delivery in walk.result.deliveries:  # this walk's own, newest last
            key = (delivery["node_id"], delivery["source_id"])
            if key in answers:
                answers[key] = Booked(delivery["target_id"], _fingerprint(delivery.get("fingerprint")))
        return answers

    async def _load_trust(self) -> None:
        """Which noted targets this database knows completely; a target new to the flow is asked whether it holds
        anything yet (an empty one is trusted from the start).

        A trust holds only while the target's newest record is still the mark kept with it: a database restored
        from a backup (or one whose runs stopped before noting their deliveries' mark) meets a newer record, and
        asks about every record again until a complete run has checked them all.
        """
        self.noted = [
            nid
            for nid, node in self.instances.items()
            if isinstance(node, TargetNode) and not node.upsert and node.find_only_in_doubt
        ]
        if not self.noted or self.ctx.dry_run:
            return
        async with self.ctx.db.session() as session:
            rows = await session.execute(
                select(TargetTrust.node_id, TargetTrust.mark, TargetTrust.reason).where(
                    TargetTrust.flow_key == self.ctx.flow_key, TargetTrust.node_id.in_(self.noted)
                )
            )
            marks, reasons = {}, {}
            for node_id, mark, reason in rows:
                marks[node_id], reasons[node_id] = mark, reason
        for node_id in self.noted:
            node = self.instances[node_id]
            assert isinstance(node, TargetNode)
            newest = await _newest(node)
            if node_id in marks:
                if newest is not None and marks[node_id] == newest:
                    self.trusted.add(node_id)
                    if reasons[node_id] == "empty":
                        self.empty.add(node_id)
                    continue
                log.warning(
                    "flow %s, target %s: the application's newest record (%s) is not the one this database last "
                    "knew (%s): every record is looked up again until a complete run has checked them",
                    self.ctx.flow_key,
                    node_id,
                    newest,
                    marks[node_id],
                )
                await self._distrust(node_id)
            holds: bool | None = newest != ""  # its newest record says whether it holds any
            if newest is None:
                try:
                    holds = await node.holds_records()
                except Exception:  # cannot tell: ask about every record, as for a target that holds bookings
                    log.info("target %s could not say whether it holds records", node_id, exc_info=True)
                    holds = None
            if holds is False:
                await self._trust(node_id, "empty", newest)

    async def _trust(self, node_id: str, reason: str, mark: str | None) -> None:
        table = cast(Table, TargetTrust.__table__)
        dialect = sqlite if self.ctx.db.is_sqlite else postgresql
        row = {
            "flow_key": self.ctx.flow_key,
            "node_id": node_id,
            "run_id": self.ctx.run_id,
            "reason": reason,
            "created_at": utcnow(),
            "mark": mark,
        }
        async with self.ctx.db.writing() as conn:
            if self.lease is not None:
                await self.lease.hold(conn)
            await conn.execute(dialect.insert(table).values(row).on_conflict_do_nothing())
        self.trusted.add(node_id)
        if reason == "empty":
            self.empty.add(node_id)

    async def _distrust(self, node_id: str) -> None:
        table = cast(Table, TargetTrust.__table__)
        async with self.ctx.db.writing() as conn:
            if self.lease is not None:
                await self.lease.hold(conn)
            await conn.execute(delete(table).where(table.c.flow_key == self.ctx.flow_key, table.c.node_id == node_id))
        self.trusted.discard(node_id)
        self.empty.discard(node_id)

    async def keep_marks(self) -> None:
        """After the run's log is written: note each trusted target's newest record as known to this database.

        Every delivery up to it is in the database by now — logged, or noted as an intent before it was sent — so a
        later run that finds the same newest record knows nothing happened behind this database's back."""
        table = cast(Table, TargetTrust.__table__)
        for node_id in sorted(self.trusted):
            node = self.instances[node_id]
            assert isinstance(node, TargetNode)
            newest = await _newest(node)
            async with self.ctx.db.writing() as conn:
                if self.lease is not None:
                    await self.lease.hold(conn)
                await conn.execute(
                    update(table)
                    .where(table.c.flow_key == self.ctx.flow_key, table.c.node_id == node_id)
                    .values(mark=newest, run_id=self.ctx.run_id)
                )

    async def trust_checked_targets(self, counts: dict[str, int]) -> None:
        """After a complete run that asked the application about every record and left none failed or waiting,
        its targets' deliveries are known completely: later runs ask only about records in doubt."""
        params = self.ctx.params
        if (
            not self.complete
            or self.ctx.dry_run
            or self.limit is not None
            or params.get("record_ids")
            or params.get("modified_after")
            or params.get("modified_before")
            or counts.get("failed")
            or counts.get("waiting")
        ):
            return
        for node_id in self.noted:
            if node_id not in self.trusted:
                await self._trust(node_id, "checked", None)

    async def _note_intents(self, page: _Page) -> set[tuple[str, str]]:
        """Note, in one fenced write, every record of the page that a noted target may deliver; returns the notes
        that were there already (left by an attempt that did not finish them: those records are in doubt)."""
        if not self.noted or self.ctx.dry_run or not page.records:
            return set()
        source_ids = list(dict.fromkeys(r.source_id for r in page.records))
        async with self.ctx.db.session() as session:
            rows = await session.execute(
                select(Intent.node_id, Intent.source_id).where(
                    Intent.flow_key == self.ctx.flow_key,
                    Intent.node_id.in_(self.noted),
                    Intent.source_id.in_(source_ids),
                )
            )
            existing = {(node_id, source_id) for node_id, source_id in rows}
        now = utcnow()
        flow_key, run_id = self.ctx.flow_key, self.ctx.run_id
        new = [
            (flow_key, nid, sid, run_id, now)
            for nid in self.noted
            for sid in source_ids
            if (nid, sid) not in existing and (nid, sid) not in page.delivered
        ]
        page.noted = {(nid, sid) for _, nid, sid, _, _ in new}
        async with self.ctx.db.writing() as conn:
            if self.lease is not None:
                await self.lease.confirm(conn)
            await _INTENT_ROWS.execute(conn, new)
        return existing


async def execute_graph(
    graph: FlowGraph,
    ctx: RunContext,
    sink: LogSink,
    *,
    concurrency: int | None = None,
    resumed: bool = False,
    cancelled: Callable[[], bool] = lambda: False,
    on_expected: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """Run ``graph`` to the end (raises :class:`RunCancelled` when ``cancelled()`` turned true).

    ``concurrency``: records in flight at most (the flow's ``settings.concurrency``); None follows the adaptive
    limits of the run's connections (:func:`_following`)."""
    ctx.before_cursor_write = sink.flush
    execution = _Execution(
        graph, ctx, sink, concurrency=concurrency, resumed=resumed, cancelled=cancelled, on_expected=on_expected
    )
    ctx.records = execution.deliveries
    try:
        await execution.run()
    except LeaseLost:
        raise
    except Exception:  # cancelled or failed: what it delivered is in the database all the same
        with contextlib.suppress(Exception):
            await _keep_marks(execution, sink)
        raise
    if execution.complete and execution.noted:
        await sink.flush()
        await execution.trust_checked_targets(dict(sink.counts))
    await _keep_marks(execution, sink)


def _fingerprint(text: str | None) -> dict[str, Any]:
    """A fingerprint kept with an idempotency entry, decoded ({} when none was kept, or it does not decode)."""
    if not text:
        return {}
    with contextlib.suppress(ValueError):
        decoded = jsoncodec.loads(text)
        if isinstance(decoded, dict):
            return decoded
    return {}


async def _newest(node: TargetNode) -> str | None:
    """The target's :meth:`~nodes.base.TargetNode.high_water`; None when it cannot tell (or the question failed)."""
    try:
        return await node.high_water()
    except Exception:  # unknown: the trust is not kept (every record is looked up), never assumed
        log.info("target %s could not name its newest record", node.id, exc_info=True)
        return None


async def _keep_marks(execution: _Execution, sink: LogSink) -> None:
    if not execution.trusted or execution.ctx.dry_run:
        return
    await sink.flush()
    await execution.keep_marks()
