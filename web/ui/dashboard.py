"""The dashboard: every flow with its last run and 30-day counts, a chart of records per day, the success rate."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get
from sqlalchemy import and_, func, select

from engine.models import Flow, LogEntry, Run, utcnow
from web.ui.render import render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("DASHBOARD_ROUTES", "dashboard_data")

DAYS = 30


async def dashboard_data(db: Database) -> dict[str, Any]:
    """Everything the dashboard shows, in a handful of grouped queries (no query per flow)."""
    since = utcnow() - timedelta(days=DAYS)
    real = and_(Run.created_at >= since, Run.trigger != "test")
    sums = (
        func.coalesce(func.sum(Run.ok_count), 0),
        func.coalesce(func.sum(Run.skipped_count), 0),
        func.coalesce(func.sum(Run.failed_count), 0),
        func.coalesce(func.sum(Run.waiting_count), 0),
    )
    async with db.session() as session:
        flows = list((await session.execute(select(Flow).order_by(Flow.name).limit(500))).scalars())
        latest = (
            select(Run.flow_id, func.max(Run.created_at).label("latest"))
            .where(Run.trigger != "test")
            .group_by(Run.flow_id)
            .subquery()
        )
        last_runs = {
            run.flow_id: run
            for run in (
                await session.execute(
                    select(Run).join(latest, and_(Run.flow_id == latest.c.flow_id, Run.created_at == latest.c.latest))
                )
            ).scalars()
        }
        per_flow = {
            row[0]: row[1:]
            for row in (await session.execute(select(Run.flow_id, *sums).where(real).group_by(Run.flow_id)))
        }
        day = func.date(Run.created_at)
        per_day = {
            str(row[0])[:10]: row[1:] for row in (await session.execute(select(day, *sums).where(real).group_by(day)))
        }
        waiting = {
            row[0]: int(row[1])
            for row in await session.execute(
                select(LogEntry.flow_id, func.count(LogEntry.id))
                .where(LogEntry.status == "waiting", LogEntry.resolved.is_(False))
                .group_by(LogEntry.flow_id)
            )
        }
    today = utcnow().date()
    days: list[dict[str, Any]] = []
    for offset in range(DAYS - 1, -1, -1):
        d: date = today - timedelta(days=offset)
        ok, skipped, failed, wait = (int(v) for v in per_day.get(d.isoformat(), (0, 0, 0, 0)))
        days.append({"date": d.isoformat(), "ok": ok, "skipped": skipped, "failed": failed, "waiting": wait})
    peak = max([d["ok"] + d["skipped"] + d["failed"] + d["waiting"] for d in days] + [1])
    rows = []
    for flow in flows:
        ok, skipped, failed, wait = (int(v) for v in per_flow.get(flow.id, (0, 0, 0, 0)))
        last = last_runs.get(flow.id)
        rows.append(
            {
                "flow": flow,
                "last": last,
                "ok": ok,
                "skipped": skipped,
                "failed": failed,
                "waiting": waiting.get(flow.id, 0),
                "failing": bool(last and (last.status == "failed" or last.failed_count > 0)),
            }
        )
    total_ok = sum(d["ok"] for d in days)
    total_failed = sum(d["failed"] for d in days)
    delivered = total_ok + total_failed
    return {
        "rows": rows,
        "days": days,
        "peak": peak,
        "total_ok": total_ok,
        "total_skipped": sum(d["skipped"] for d in days),
        "total_failed": total_failed,
        "total_waiting": sum(waiting.values()),
        "success_rate": (total_ok / delivered) if delivered else None,
    }


@get("/")
async def dashboard(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    return render(request, "dashboard.html", **await dashboard_data(db))


DASHBOARD_ROUTES = [dashboard]
