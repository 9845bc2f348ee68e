"""The cluster's scheduler: schedules and catch-up runs fire once per slot, webhook deliveries become runs.

arq's cron jobs with ``unique=True`` are enqueued once per time across all workers; on top of that every slot a
flow fires is claimed by inserting a :class:`~engine.models.FiredSlot` row whose primary key names the slot, so even
two schedulers racing (or a clock skew between workers) can never start two runs for one slot.

Triggers (``Flow.trigger``):

- ``{"type": "interval", "every_s": 900}`` — every N seconds, aligned on the epoch (``every_minutes`` works too);
- ``{"type": "cron", "cron": "*/15 * * * *"}`` — a cron expression in UTC;
- ``{"type": "webhook", "catch_up_every_s": 900}`` or ``"catch_up_cron"`` — runs per delivery, plus an incremental
  catch-up run (default every 15 minutes; ``0`` switches it off) that picks up what a lost delivery missed;
- ``{"type": "manual"}`` — never by itself.

Only active flows fire. A slot is fired when the scheduler first sees it, at most ``grace`` late (a nightly cron does
not fire at noon because the flow was switched on at noon); a slot that finds the flow still running is skipped.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from arq import cron
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from engine.models import FiredSlot, Flow, WebhookDelivery, new_id, utcnow

if TYPE_CHECKING:
    from arq import ArqRedis

    from engine.db import Database

__all__ = (
    "CRON_JOBS",
    "DEFAULT_CATCH_UP_S",
    "JOB_FUNCTIONS",
    "Schedule",
    "cron_problem",
    "dispatch_webhooks",
    "fire_due",
    "next_fire_times",
    "schedules_of",
)

log = logging.getLogger("koppel.schedules")

DEFAULT_CATCH_UP_S = 900
"""Catch-up runs of webhook flows: every 15 minutes unless the trigger says otherwise."""
MAX_GRACE_S = 900.0
"""How late a slot may still fire (a scheduler that was down fires the latest missed slot within this)."""
MIN_GRACE_S = 10.0
WEBHOOK_BATCH = 500
"""At most this many delivered records go into one webhook run; the rest wait for the next."""
TICK_SECONDS = frozenset(range(0, 60, 2))


@dataclass(frozen=True)
class Schedule:
    """One recurring slot series of a flow: its own schedule or its catch-up."""

    kind: str
    """``schedule`` or ``catch_up`` (also the run's trigger)."""
    every_s: int | None = None
    cron: str | None = None

    def latest_slot(self, now: datetime) -> datetime | None:
        """The newest slot at or before ``now``."""
        if self.every_s:
            stamp = math.floor(now.timestamp() / self.every_s) * self.every_s
            return datetime.fromtimestamp(stamp, UTC)
        if self.cron:
            from croniter import croniter

            prev: datetime = croniter(self.cron, now + timedelta(microseconds=1)).get_prev(datetime)
            return prev.astimezone(UTC)
        return None

    def next_slot(self, now: datetime) -> datetime | None:
        """The first slot after ``now``."""
        if self.every_s:
            stamp = (math.floor(now.timestamp() / self.every_s) + 1) * self.every_s
            return datetime.fromtimestamp(stamp, UTC)
        if self.cron:
            from croniter import croniter

            nxt: datetime = croniter(self.cron, now).get_next(datetime)
            return nxt.astimezone(UTC)
        return None

    def grace_s(self, now: datetime) -> float:
        """How late a slot may fire: up to one period, at most :data:`MAX_GRACE_S`."""
        latest, nxt = self.latest_slot(now), self.next_slot(now)
        period = (nxt - latest).total_seconds() if latest and nxt else MAX_GRACE_S
        return max(MIN_GRACE_S, min(period, MAX_GRACE_S))


def _positive_int(value: Any) -> int | None:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def schedules_of(trigger: dict[str, Any]) -> list[Schedule]:
    """The slot series a trigger defines (invalid values define none; the settings API rejects them)."""
    if not isinstance(trigger, dict):
        return []
    kind = str(trigger.get("type") or "manual")
    if kind == "interval":
        every = _positive_int(trigger.get("every_s"))
        if every is None and _positive_int(trigger.get("every_minutes")):
            every = int(trigger["every_minutes"]) * 60
        return [Schedule("schedule", every_s=every)] if every else []
    if kind == "cron":
        expr = str(trigger.get("cron") or "").strip()
        return [Schedule("schedule", cron=expr)] if expr and valid_cron(expr) else []
    if kind == "webhook":
        expr = str(trigger.get("catch_up_cron") or "").strip()
        if expr and valid_cron(expr):
            return [Schedule("catch_up", cron=expr)]
        raw = trigger.get("catch_up_every_s", DEFAULT_CATCH_UP_S)
        every = _positive_int(raw)
        return [Schedule("catch_up", every_s=every)] if every else []
    return []


CRON_HORIZON_YEARS = 5
"""A cron expression must fire within this many years to be accepted (``0 0 31 2 *`` never does)."""
CRON_SYNTAX = "not a valid cron expression (e.g. */15 * * * *)"
CRON_NEVER = "this cron expression never fires (no time matches it in the next 5 years)"


@functools.lru_cache(maxsize=256)
def cron_problem(expr: str) -> str | None:
    """Why ``expr`` cannot serve as a schedule (bad syntax, or no firing time within the horizon), or None."""
    from croniter import CroniterError, croniter

    try:
        if not croniter.is_valid(expr):
            return CRON_SYNTAX
        # Whether a date matches does not depend on today: both directions are looked at from a fixed point,
        # so the answer can be cached per expression.
        start = datetime(2026, 1, 1, tzinfo=UTC)
        nxt: datetime = croniter(expr, start, max_years_between_matches=CRON_HORIZON_YEARS).get_next(datetime)
    except (CroniterError, ValueError, KeyError, TypeError, OverflowError):
        return CRON_NEVER if _parses(expr) else CRON_SYNTAX
    if (nxt - start).days > 366 * CRON_HORIZON_YEARS:
        return CRON_NEVER
    return None


def _parses(expr: str) -> bool:
    from croniter import croniter

    try:
        return bool(croniter.is_valid(expr))
    except Exception:  # a library that chokes on odd input: then it does not parse
        return False


def valid_cron(expr: str) -> bool:
    """Whether ``expr`` parses and fires at least once within :data:`CRON_HORIZON_YEARS`."""
    return cron_problem(expr) is None


def next_fire_times(trigger: dict[str, Any], now: datetime | None = None) -> dict[str, str]:
    """When each of the trigger's series fires next (ISO times, for the flow page); a series that cannot tell
    (a broken trigger stored before it was checked) is left out rather than breaking the page."""
    now = now or utcnow()
    result = {}
    for schedule in schedules_of(trigger):
        try:
            nxt = schedule.next_slot(now)
        except Exception:
            log.warning("the %s of a flow cannot say when it fires next", schedule.kind, exc_info=True)
            continue
        if nxt is not None:
            result[schedule.kind] = nxt.isoformat()
    return result


async def _claim_slot(db: Database, flow_id: str, kind: str, slot: datetime) -> str | None:
    """Insert the slot's row; None when it exists already (another scheduler fired it)."""
    key = f"{kind}:{flow_id}:{slot.isoformat()}"
    async with db.session() as session:
        if await session.get(FiredSlot, key) is not None:
            return None
    try:
        async with db.session() as session, session.begin():
            session.add(FiredSlot(key=key, flow_id=flow_id, kind=kind, slot_at=slot, info={}))
    except IntegrityError:
        return None
    return key


async def _set_slot_info(db: Database, key: str, run_id: str | None, info: dict[str, Any]) -> None:
    async with db.session() as session, session.begin():
        await session.execute(update(FiredSlot).where(FiredSlot.key == key).values(run_id=run_id, info=info))


async def _start(
    db: Database, flow_id: str, *, trigger: str, params: dict[str, Any], queue: ArqRedis | None
) -> str | None:
    """Start and enqueue a run; None when the flow is busy (``store.FlowBusy``)."""
    from engine import store
    from engine.queue import enqueue_run

    try:
        run = await store.start_flow_run(db, flow_id, trigger=trigger, params=params, enqueue=False)
    except store.FlowBusy:
        return None
    await enqueue_run(run.id, queue=queue)
    return run.id


async def fire_due(db: Database, *, now: datetime | None = None, queue: ArqRedis | None = None) -> list[str]:
    """Start the runs of every active flow whose schedule or catch-up slot is due; returns their run ids."""
    now = now or utcnow()
    async with db.session() as session:
        flows = (await session.execute(select(Flow.id, Flow.trigger).where(Flow.active.is_(True)))).all()
    started = []
    for flow_id, trigger in flows:
        # One flow's broken trigger (or any error while starting it) must never keep the other flows from firing.
        try:
            started.extend(await _fire_flow(db, flow_id, trigger, now=now, queue=queue))
        except Exception:
            log.exception("the schedule of flow %s could not be evaluated; the other flows go on", flow_id)
    return started


async def _fire_flow(db: Database, flow_id: str, trigger: Any, *, now: datetime, queue: ArqRedis | None) -> list[str]:
    started = []
    for schedule in schedules_of(trigger if isinstance(trigger, dict) else {}):
        slot = schedule.latest_slot(now)
        if slot is None or (now - slot).total_seconds() > schedule.grace_s(now):
            continue
        key = await _claim_slot(db, flow_id, schedule.kind, slot)
        if key is None:
            continue
        try:
            run_id = await _start(db, flow_id, trigger=schedule.kind, params={}, queue=queue)
        except Exception as exc:
            log.exception("scheduled run of flow %s could not start", flow_id)
            await _set_slot_info(db, key, None, {"error": f"{type(exc).__name__}: {exc}"})
            continue
        if run_id is None:
            log.info("flow %s is still running: %s slot %s skipped", flow_id, schedule.kind, slot.isoformat())
            await _set_slot_info(db, key, None, {"skipped": "the flow was still running"})
        else:
            await _set_slot_info(db, key, run_id, {})
            started.append(run_id)
    return started


async def dispatch_webhooks(db: Database, *, flow_id: str | None = None, queue: ArqRedis | None = None) -> list[str]:
    """Turn pending webhook deliveries into runs (one run per flow for all its pending records).

    Deliveries are claimed with a conditional update first, so two dispatchers never put the same delivery into
    two runs; when the flow is busy they are released again and the next scheduler tick retries: none is lost.
    """
    query = select(WebhookDelivery.flow_id).where(WebhookDelivery.status == "pending").distinct()
    if flow_id is not None:
        query = query.where(WebhookDelivery.flow_id == flow_id)
    async with db.session() as session:
        flow_ids = list((await session.execute(query)).scalars())
    started = []
    for fid in flow_ids:
        token = new_id()
        async with db.session() as session, session.begin():
            ids = list(
                (
                    await session.execute(
                        select(WebhookDelivery.id)
                        .where(WebhookDelivery.flow_id == fid, WebhookDelivery.status == "pending")
                        .order_by(WebhookDelivery.id)
                        .limit(WEBHOOK_BATCH)
                    )
                ).scalars()
            )
            if not ids:
                continue
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == "pending")
                .values(status="claimed", run_id=token)
            )
        async with db.session() as session:
            source_ids = sorted(
                set(
                    (
                        await session.execute(select(WebhookDelivery.source_id).where(WebhookDelivery.run_id == token))
                    ).scalars()
                )
            )
        if not source_ids:
            continue
        run_id: str | None = None
        try:
            run_id = await _start(db, fid, trigger="webhook", params={"record_ids": source_ids}, queue=queue)
        except Exception:
            log.exception("webhook run of flow %s could not start; the deliveries stay pending", fid)
        async with db.session() as session, session.begin():
            values: dict[str, Any] = (
                {"status": "queued", "run_id": run_id} if run_id else {"status": "pending", "run_id": None}
            )
            await session.execute(update(WebhookDelivery).where(WebhookDelivery.run_id == token).values(**values))
        if run_id:
            started.append(run_id)
    return started


# ---- arq jobs ---------------------------------------------------------------------------------------------------


async def scheduler_tick(ctx: dict[str, Any]) -> dict[str, int]:
    """Every two seconds on one worker of the cluster: due schedules, then pending webhook deliveries."""
    db: Database = ctx["db"]
    queue = ctx.get("redis")
    # The two halves are independent: a failing schedule never holds up stored webhook deliveries, nor the reverse.
    fired: list[str] = []
    hooked: list[str] = []
    try:
        fired = await fire_due(db, queue=queue)
    except Exception:
        log.exception("the scheduler could not look at the schedules this tick")
    try:
        hooked = await dispatch_webhooks(db, queue=queue)
    except Exception:
        log.exception("the scheduler could not dispatch webhook deliveries this tick")
    return {"scheduled": len(fired), "webhook_runs": len(hooked)}


async def retention_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Hourly: purge old snapshots and runs (see :mod:`engine.retention`)."""
    from engine.retention import purge

    report = await purge(ctx["db"])
    return report.as_dict()


async def alerts_job(ctx: dict[str, Any]) -> int:
    """Every minute: evaluate every flow's alert rules and send at most one digest per flow and period."""
    from engine.alerts import run_alerts

    results = await run_alerts(ctx["db"])
    return sum(1 for r in results if r.get("sent"))


CRON_JOBS = [
    cron(scheduler_tick, name="koppel:scheduler", second=set(TICK_SECONDS), unique=True, timeout=120),
    cron(retention_job, name="koppel:retention", minute={17}, second=5, unique=True, timeout=3600),
    cron(alerts_job, name="koppel:alerts", second=30, unique=True, timeout=300),
]
"""Cron jobs :mod:`engine.jobs` adds to every worker (arq enqueues each slot once across the cluster)."""

JOB_FUNCTIONS: list[Any] = []
"""No extra on-demand jobs: webhook deliveries are dispatched inline and by the scheduler tick."""
