"""The flow page's automation section (htmx fragments): schedule status, catch-up, webhook, cursors, backfill,
alerts, retention, privacy and erase by e-mail.

``web/templates/flow_settings.html`` loads ``GET /flows/{id}/automation`` into the settings tab; every form here
answers with the re-rendered section and a message, so the page never reloads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from engine import automation, store

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("AUTOMATION_UI_ROUTES",)

FRAGMENT = "fragments/automation.html"


def render(request: Request[Any, Any, Any], template: str, /, **context: Any) -> Response[str]:
    from web.ui.render import render as render_page  # lazily: web.ui imports this module

    return render_page(request, template, **context)


def redirect(request: Request[Any, Any, Any], url: str) -> Response[str]:
    from web.ui.render import redirect as go

    return go(request, url)


async def _section(
    request: Request[Any, Any, Any],
    db: Database,
    flow_id: str,
    *,
    message: str = "",
    kind: str = "success",
    problems: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response[str]:
    view = await automation.automation_view(db, flow_id)
    if view is None:
        raise NotFoundException("This flow does not exist.")
    from web.i18n import translate
    from web.ui.render import language_of

    lang = language_of(request)
    view["trigger_problems"] = [{**p, "message": translate(lang, p["message"])} for p in view["trigger_problems"]]
    from engine.generic_hooks import generic_hook_view

    view["generic_hook"] = await generic_hook_view(db, flow_id)  # the page only: the secret stays out of the API
    return render(
        request,
        FRAGMENT,
        a=view,
        message=message,
        kind=kind,
        problems=problems or [],
        status_code=status_code,
    )


def _checked(form: Any, name: str) -> bool:
    return form.get(name) in ("on", "1", "true")


@get("/flows/{flow_id:str}/automation")
async def automation_section(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    return await _section(request, db, flow_id)


@post("/flows/{flow_id:str}/automation/settings")
async def save_automation(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """Catch-up, alert rules, retention and privacy (the trigger itself is saved by the settings form above)."""
    form = await request.form()
    flow = await store.get_flow(db, flow_id)
    data: dict[str, Any] = {
        "retention_days": form.get("retention_days") or None,
        "run_retention_days": form.get("run_retention_days") or None,
        "privacy": {"redact_personal": _checked(form, "redact_personal")},
        "alerts": {
            "enabled": _checked(form, "alerts_enabled"),
            "emails": str(form.get("alerts_emails") or ""),
            "webhook_url": str(form.get("alerts_webhook_url") or ""),
            "period_minutes": form.get("alerts_period_minutes") or 60,
            "run_failed": _checked(form, "alert_run_failed"),
            "records_failed": _checked(form, "alert_records_failed"),
            "waiting": _checked(form, "alert_waiting"),
            "credentials": _checked(form, "alert_credentials"),
            "heartbeat_hours": form.get("alerts_heartbeat_hours") or 0,
            "lag_minutes": form.get("alerts_lag_minutes") or 0,
        },
    }
    trigger = dict(flow.trigger or {})
    if trigger.get("type") == "webhook" and "catch_up_minutes" in form:
        minutes = str(form.get("catch_up_minutes") or "0").strip()
        trigger.pop("catch_up_cron", None)
        trigger["catch_up_every_s"] = int(minutes) * 60 if minutes.isdigit() else minutes
        data["trigger"] = trigger
    change, problems = automation.validate_automation(data)
    if problems:
        return await _section(request, db, flow_id, problems=problems, kind="error", message="Not saved:")
    await automation.apply_automation(db, flow_id, change)
    return await _section(request, db, flow_id, message="Automation settings saved.")


@post("/flows/{flow_id:str}/automation/webhook/{action:str}")
async def webhook_action(request: Request[Any, Any, Any], db: Database, flow_id: str, action: str) -> Response[str]:
    """``register`` creates the flow's webhooks on the store; ``remove`` deletes them."""
    from engine.webhooks import register_webhooks, unregister_webhooks
    from nodes.connectors.http import ApiError

    try:
        if action == "register":
            await register_webhooks(db, flow_id)
            message = "The webhook is registered on the store."
        elif action == "remove":
            await unregister_webhooks(db, flow_id)
            message = "The webhook is removed from the store."
        else:
            raise NotFoundException("Unknown webhook action.")
    except store.NotFound as exc:
        raise NotFoundException(str(exc)) from exc
    except (LookupError, ValueError, ApiError) as exc:
        return await _section(request, db, flow_id, message=str(exc), kind="error")
    return await _section(request, db, flow_id, message=message)


@post("/flows/{flow_id:str}/automation/cursors/{node_id:str}")
async def save_cursor(request: Request[Any, Any, Any], db: Database, flow_id: str, node_id: str) -> Response[str]:
    form = await request.form()
    value = None if _checked(form, "reset") else (str(form.get("value") or "").strip() or None)
    try:
        await automation.set_cursor(db, flow_id, node_id, value)
    except ValueError as exc:
        return await _section(request, db, flow_id, message=str(exc), kind="error")
    message = "The next run reads everything again." if value is None else f"The next run reads from {value}."
    return await _section(request, db, flow_id, message=message)


@post("/flows/{flow_id:str}/automation/backfill")
async def backfill(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """Start a run over a date range or listed records, then open its run page."""
    form = await request.form()
    ids = str(form.get("record_ids") or "").replace(",", "\n").split()
    user = request.scope.get("user")
    try:
        run = await automation.start_backfill(
            db,
            flow_id,
            modified_after=str(form.get("modified_after") or "") or None,
            modified_before=str(form.get("modified_before") or "") or None,
            record_ids=ids,
            created_by=getattr(user, "email", None),
        )
    except (ValueError, store.FlowBusy) as exc:
        return await _section(request, db, flow_id, message=str(exc), kind="error")
    return redirect(request, f"/runs/{run.id}")


@post("/flows/{flow_id:str}/automation/erase")
async def erase(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """Erase one person (by e-mail) from the stored logs of every flow; the section shows the report."""
    from engine.privacy import erase_by_email

    form = await request.form()
    try:
        report = await erase_by_email(db, str(form.get("email") or ""))
    except ValueError as exc:
        return await _section(request, db, flow_id, message=str(exc), kind="error")
    message = (
        f"Erased: {report.entries} log entries in {len(report.runs)} runs "
        f"({report.values} values replaced, {report.run_errors} run errors)."
        if report.entries or report.run_errors
        else "Nothing stored mentions this address."
    )
    return await _section(request, db, flow_id, message=message)


TRIGGER_LABELS = {
    "manual": "by hand",
    "interval": "schedule",
    "cron": "schedule",
    "webhook": "webhook + catch-up",
}


def _since(minutes: float | None) -> str:
    if minutes is None:
        return ""
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.0f} d"


@get("/automation/health")
async def health_card(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """The dashboard's health card: last success and time since, success rate, queued runs, webhook backlog."""
    from sqlalchemy import select

    from engine.models import Flow

    data = await automation.health(db)
    async with db.session() as session:
        rows = (await session.execute(select(Flow.id, Flow.trigger))).all()
    triggers: dict[str, dict[str, Any]] = {fid: trigger or {} for fid, trigger in rows}
    for row in data["flows"]:
        kind = str(triggers.get(row["flow_id"], {}).get("type", "manual"))
        row["trigger_label"] = TRIGGER_LABELS.get(kind, kind)
        row["since_label"] = _since(row["minutes_since_success"])
    return render(request, "fragments/health.html", h=data)


AUTOMATION_UI_ROUTES = [health_card, automation_section, save_automation, webhook_action, save_cursor, backfill, erase]
