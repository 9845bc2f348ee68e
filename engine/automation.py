"""A flow's automation settings as the API and the flow page show and change them.

Trigger and schedule, webhook state, incremental cursors, backfill, alert rules, retention and privacy; plus the
dashboard's health figures. Validation lives here so that the JSON API and the htmx pages refuse the same things.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, func, select

from engine.models import Cursor, FiredSlot, Flow, FlowVersion, Run, RunStatus, WebhookDelivery, utcnow
from nodes.texts import shown

if TYPE_CHECKING:
    from engine.db import Database

__all__ = (
    "TRIGGER_TYPES",
    "apply_automation",
    "automation_view",
    "flow_cursors",
    "health",
    "set_cursor",
    "start_backfill",
    "validate_automation",
)

TRIGGER_TYPES = ("manual", "interval", "cron", "webhook")
SETTING_KEYS = ("max_parallel_runs", "retention_days", "run_retention_days", "privacy", "alerts")
MIN_INTERVAL_S = 10


def _problem(field: str, message: str) -> dict[str, str]:
    return {"node": "", "field": field, "message": message}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def validate_automation(data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Normalise a change (``trigger``, ``active`` and the :data:`SETTING_KEYS`); returns it and the problems."""
    from engine.schedules import cron_problem

    out: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    if data.get("trigger") is not None and not isinstance(data["trigger"], dict):
        problems.append(_problem("trigger", 'must be an object such as {"type": "cron", "cron": "*/15 * * * *"}'))
    elif data.get("trigger") is not None:
        trigger = dict(data["trigger"])
        kind = trigger.get("type") or "manual"
        if not isinstance(kind, str) or kind not in TRIGGER_TYPES:
            problems.append(_problem("trigger.type", f"must be one of {', '.join(TRIGGER_TYPES)}"))
        if kind == "interval":
            every = _int(trigger.get("every_s"))
            if every is None and _int(trigger.get("every_minutes")):
                every = int(trigger["every_minutes"]) * 60
            if every is None or every < MIN_INTERVAL_S:
                problems.append(_problem("trigger.every_s", f"give an interval of at least {MIN_INTERVAL_S} seconds"))
            trigger = {"type": kind, "every_s": every}
        elif kind == "cron":
            expr = str(trigger.get("cron") or "").strip()
            why = cron_problem(expr) if expr else "give a cron expression (e.g. */15 * * * *)"
            if why:
                problems.append(_problem("trigger.cron", why))
            trigger = {"type": kind, "cron": expr}
        elif kind == "webhook":
            clean: dict[str, Any] = {"type": kind}
            expr = str(trigger.get("catch_up_cron") or "").strip()
            if expr:
                why = cron_problem(expr)
                if why:
                    problems.append(_problem("trigger.catch_up_cron", why))
                clean["catch_up_cron"] = expr
            elif trigger.get("catch_up_every_s") not in (None, ""):
                every = _int(trigger.get("catch_up_every_s"))
                if every is None or (every and every < MIN_INTERVAL_S) or every < 0:
                    problems.append(
                        _problem("trigger.catch_up_every_s", f"0 (off) or at least {MIN_INTERVAL_S} seconds")
                    )
                clean["catch_up_every_s"] = every
            trigger = clean
        else:
            trigger = {"type": "manual"}
        out["trigger"] = trigger
    if data.get("active") is not None:
        out["active"] = bool(data["active"])
    settings: dict[str, Any] = {}
    for key in ("max_parallel_runs", "retention_days", "run_retention_days"):
        if data.get(key) is not None:
            number = _int(data[key])
            if number is None or number < (0 if key == "max_parallel_runs" else 1):
                problems.append(_problem(key, "must be a whole number of at least 1"))
            settings[key] = number
    if data.get("privacy") is not None:
        value = data["privacy"]
        redact = value.get("redact_personal") if isinstance(value, dict) else value in (True, "redact")
        settings["privacy"] = {"redact_personal": bool(redact)}
    if data.get("alerts") is not None:
        alerts, alert_problems = _validate_alerts(dict(data["alerts"]))
        problems.extend(alert_problems)
        settings["alerts"] = alerts
    if settings:
        out["settings"] = settings
    return out, problems


def _validate_alerts(raw: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    problems = []
    emails = raw.get("emails") or []
    if isinstance(emails, str):
        emails = [e.strip() for e in emails.replace(";", ",").replace("\n", ",").split(",")]
    emails = [str(e).strip() for e in emails if str(e).strip()]
    for address in emails:
        if "@" not in address or " " in address:
            problems.append(_problem("alerts.emails", f"{shown(address)} is not an e-mail address"))
    url = str(raw.get("webhook_url") or "").strip()
    if url and not url.startswith(("https://", "http://")):
        problems.append(_problem("alerts.webhook_url", "must start with https://"))
    alerts: dict[str, Any] = {"enabled": bool(raw.get("enabled", True)), "emails": emails, "webhook_url": url}
    period = _int(raw.get("period_minutes") or 60)
    if period is None or period < 1:
        problems.append(_problem("alerts.period_minutes", "at least 1 minute"))
    alerts["period_minutes"] = period
    for rule in ("run_failed", "records_failed", "waiting", "credentials"):
        alerts[rule] = bool(raw.get(rule, True))
    for limit in ("heartbeat_hours", "lag_minutes"):
        try:
            alerts[limit] = max(0.0, float(raw.get(limit) or 0))
        except (TypeError, ValueError):
            problems.append(_problem(f"alerts.{limit}", "must be a number (0 = off)"))
    return alerts, problems


async def apply_automation(db: Database, flow_id: str, change: dict[str, Any]) -> Flow | None:
    """Store a validated change; None when the flow does not exist."""
    async with db.session() as session, session.begin():
        flow = await session.get(Flow, flow_id)
        if flow is None:
            return None
        if "trigger" in change:
            flow.trigger = change["trigger"]
        if "active" in change:
            flow.active = change["active"]
        if "settings" in change:
            flow.settings = {**(flow.settings or {}), **change["settings"]}
        flow.updated_at = utcnow()
    return flow


async def _sources(db: Database, flow: Flow) -> list[dict[str, Any]]:
    async with db.session() as session:
        document = await session.scalar(select(FlowVersion.document).where(FlowVersion.current_of(flow))) or {}
    from nodes.registry import get_node_type

    sources = []
    for node in document.get("nodes", []):
        cls = get_node_type(str(node.get("type")))
        if cls is not None and str(cls.kind) == "source":
            sources.append({"id": node.get("id"), "type": node.get("type"), "title": cls.title})
    return sources


def _decode(raw: str | None) -> tuple[str | None, int]:
    if not raw:
        return None, 0
    if raw.startswith("{"):
        try:
            value = json.loads(raw)
            return (str(value.get("at")) if value.get("at") else None), len(value.get("seen", []))
        except (ValueError, AttributeError):
            return raw, 0
    return raw, 0


async def flow_cursors(db: Database, flow: Flow) -> list[dict[str, Any]]:
    """Each source node of the current version with its incremental position (None = reads everything)."""
    async with db.session() as session:
        rows = {
            c.node_id: c for c in (await session.execute(select(Cursor).where(Cursor.flow_key == flow.id))).scalars()
        }
    out = []
    for source in await _sources(db, flow):
        row = rows.get(str(source["id"]))
        at, seen = _decode(row.value if row else None)
        out.append(
            {
                **source,
                "value": at,
                "raw": row.value if row else None,
                "seen_in_overlap": seen,
                "updated_at": row.updated_at.isoformat() if row else None,
            }
        )
    return out


async def set_cursor(db: Database, flow_id: str, node_id: str, value: str | None) -> None:
    """Move a source's cursor to an ISO date-time or another value it understands; None resets it (full read).

    Raises:
        ValueError: a value that is neither an ISO date-time nor a whole number.
    """
    if value is not None:
        value = value.strip()
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            if not value.isdigit():
                raise ValueError("give a date and time like 2026-11-01T00:00:00 (UTC), or leave it empty") from None
    async with db.session() as session, session.begin():
        row = await session.get(Cursor, (flow_id, node_id))
        if value in (None, ""):
            await session.execute(delete(Cursor).where(Cursor.flow_key == flow_id, Cursor.node_id == node_id))
        elif row is None:
            session.add(Cursor(flow_key=flow_id, node_id=node_id, value=value))
        else:
            row.value = str(value)


async def start_backfill(
    db: Database,
    flow_id: str,
    *,
    modified_after: str | None = None,
    modified_before: str | None = None,
    record_ids: list[str] | None = None,
    created_by: str | None = None,
) -> Run:
    """Queue a run over a date range or a list of record ids (``order:123`` or bare ids); the cursor stays.

    Raises:
        ValueError: neither a range nor ids, or a date that cannot be read.
        engine.store.FlowBusy: the flow runs already.
    """
    from engine import store

    params: dict[str, Any] = {}
    ids = [str(i).strip() for i in (record_ids or []) if str(i).strip()]
    if ids:
        params["record_ids"] = ids
    for name, value in (("modified_after", modified_after), ("modified_before", modified_before)):
        if value:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{name}: give a date like 2026-11-01 or 2026-11-01T12:00:00") from None
            params[name] = value
    if "modified_before" in params and "modified_after" not in params:
        raise ValueError("modified_after: a backfill range needs a start")
    if not params:
        raise ValueError("give a date range or record ids to backfill")
    return await store.start_flow_run(db, flow_id, trigger="backfill", params=params, created_by=created_by)


async def automation_view(db: Database, flow_id: str) -> dict[str, Any] | None:
    """Everything the flow page's automation section shows."""
    from engine.alerts import AlertRules
    from engine.retention import retention_of
    from engine.schedules import next_fire_times
    from engine.webhooks import webhook_status

    async with db.session() as session:
        flow = await session.get(Flow, flow_id)
        if flow is None:
            return None
        slots = (
            await session.execute(
                select(FiredSlot).where(FiredSlot.flow_id == flow_id).order_by(FiredSlot.slot_at.desc()).limit(10)
            )
        ).scalars()
        recent = [{"kind": s.kind, "slot_at": s.slot_at.isoformat(), "run_id": s.run_id, "info": s.info} for s in slots]
    settings = flow.settings if isinstance(flow.settings, dict) else {}
    trigger = flow.trigger if isinstance(flow.trigger, dict) and flow.trigger else {"type": "manual"}
    snapshot_days, run_days = retention_of(settings)
    rules = AlertRules.of(settings)
    return {
        "flow_id": flow.id,
        "active": flow.active,
        "trigger": trigger,
        "next": next_fire_times(trigger),
        "trigger_problems": validate_automation({"trigger": flow.trigger or {"type": "manual"}})[1],
        "max_parallel_runs": _int(settings.get("max_parallel_runs", 1)) or 0,
        "retention_days": snapshot_days,
        "run_retention_days": run_days,
        "privacy": {"redact_personal": bool((settings.get("privacy") or {}).get("redact_personal"))}
        if isinstance(settings.get("privacy"), dict)
        else {"redact_personal": settings.get("privacy") in (True, "redact")},
        "alerts": {**rules.__dict__},
        "webhook": await webhook_status(db, flow_id),
        "cursors": await flow_cursors(db, flow),
        "recent_slots": recent,
    }


async def health(db: Database, *, days: int = 7) -> dict[str, Any]:
    """Dashboard health: per flow last success, lag, failures and success rate per day; the queue's depth."""
    since = utcnow() - timedelta(days=days)
    finished_ok = Run.status.in_((RunStatus.SUCCEEDED, RunStatus.PARTIAL))
    async with db.session() as session:
        flows = (await session.execute(select(Flow.id, Flow.name, Flow.active).order_by(Flow.name))).all()
        last_ok = dict(
            (
                await session.execute(
                    select(Run.flow_id, func.max(Run.finished_at)).where(finished_ok).group_by(Run.flow_id)
                )
            ).all()
        )
        totals = {
            fid: (int(total), int(ok or 0))
            for fid, total, ok in (
                await session.execute(
                    select(Run.flow_id, func.count(Run.id), func.sum(case((finished_ok, 1), else_=0)))
                    .where(Run.created_at >= since, Run.status.in_(RunStatus.FINISHED), Run.trigger != "test")
                    .group_by(Run.flow_id)
                )
            ).all()
        }
        queued = dict(
            (
                await session.execute(
                    select(Run.flow_id, func.count(Run.id)).where(Run.status == RunStatus.QUEUED).group_by(Run.flow_id)
                )
            ).all()
        )
        pending = dict(
            (
                await session.execute(
                    select(WebhookDelivery.flow_id, func.count(WebhookDelivery.id))
                    .where(WebhookDelivery.status == "pending")
                    .group_by(WebhookDelivery.flow_id)
                )
            ).all()
        )
    now = utcnow()
    rows = []
    for fid, name, active in flows:
        last = last_ok.get(fid)
        total, ok = totals.get(fid, (0, 0))
        rows.append(
            {
                "flow_id": fid,
                "name": name,
                "active": active,
                "last_success_at": last.isoformat() if last else None,
                "minutes_since_success": round((now - last).total_seconds() / 60, 1) if last else None,
                "runs": total,
                "success_rate": round(ok / total, 3) if total else None,
                "queued_runs": int(queued.get(fid, 0)),
                "pending_deliveries": int(pending.get(fid, 0)),
            }
        )
    return {"days": days, "flows": rows, "queue_depth": sum(int(v) for v in queued.values())}
