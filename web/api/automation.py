"""Automation of a flow: trigger and schedule, webhooks, cursors, backfill, alerts, retention, privacy; health."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromQuery, QueryParameter
from pydantic import BaseModel, Field

from engine import automation, store
from nodes.texts import shown
from web.api.errors import bad_request, conflict, not_found
from web.api.params import IsoDateTime, SafeText

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from engine.db import Database

__all__ = ("ROUTES", "AutomationController", "PrivacyController")


class AutomationIn(BaseModel):
    trigger: dict[str, Any] | None = Field(
        default=None,
        description='{"type": "manual"} | {"type": "interval", "every_s": 900} | {"type": "cron", "cron": '
        '"*/15 * * * *"} | {"type": "webhook", "catch_up_every_s": 900}',
    )
    active: bool | None = None
    max_parallel_runs: int | None = Field(default=None, ge=0, le=100, description="0: no limit")
    retention_days: int | None = Field(
        default=None, ge=1, le=3650, description="Days log snapshots are kept (default 14)"
    )
    run_retention_days: int | None = Field(default=None, ge=1, le=3650, description="Days runs are kept (default 90)")
    privacy: dict[str, Any] | None = Field(default=None, description='{"redact_personal": true}')
    alerts: dict[str, Any] | None = Field(
        default=None,
        description='{"emails": [...], "webhook_url": "", "period_minutes": 60, "run_failed": true, '
        '"records_failed": true, "waiting": true, "credentials": true, "heartbeat_hours": 24, "lag_minutes": 120}',
    )


class CursorIn(BaseModel):
    value: SafeText | None = Field(
        default=None, max_length=100, description="ISO date-time (UTC); empty = read everything next time"
    )


class BackfillIn(BaseModel):
    modified_after: IsoDateTime | None = Field(default=None, description="ISO date or date-time (UTC)")
    modified_before: IsoDateTime | None = Field(default=None, description="ISO date or date-time (UTC)")
    record_ids: list[SafeText] | None = Field(
        default=None, max_length=10_000, description='e.g. ["order:123", "order:124"]'
    )


class EraseIn(BaseModel):
    email: SafeText = Field(max_length=320)


def _translated(request: Request[Any, Any, Any], message: str) -> str:
    from web.i18n import translate
    from web.ui.render import language_of

    return translate(language_of(request), message)


def _translated_problems(request: Request[Any, Any, Any], problems: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**p, "message": _translated(request, p["message"])} for p in problems]


def _user_email(request: Request[Any, Any, Any]) -> str | None:
    return getattr(request.scope.get("user"), "email", None)


async def _change_webhooks(change: Awaitable[dict[str, Any]], done: str) -> dict[str, Any]:
    """The answer of a change to a flow's webhooks at the store: 404 for an unknown flow, 400 when it failed."""
    from nodes.connectors.http import ApiError

    try:
        return await change
    except store.NotFound as exc:
        raise not_found(str(exc)) from exc
    except (LookupError, ValueError, ApiError) as exc:
        raise bad_request(f"the webhook could not be {done}: {exc}") from exc


class AutomationController(Controller):
    path = "/api/flows/{flow_id:str}/automation"
    tags = ["automation"]

    @get("/", operation_id="GetAutomation")
    async def show(self, db: Database, flow_id: str) -> dict[str, Any]:
        """Trigger, next fire times, webhook state, cursors, alert rules, retention and privacy of a flow."""
        view = await automation.automation_view(db, flow_id)
        if view is None:
            raise not_found(f"no flow {shown(flow_id)}")
        return view

    @put("/", operation_id="UpdateAutomation")
    async def update(
        self, request: Request[Any, Any, Any], db: Database, flow_id: str, data: AutomationIn
    ) -> dict[str, Any]:
        """Change the trigger, activation and run settings; 400 names each refused field (in the user's language)."""
        change, problems = automation.validate_automation(data.model_dump(exclude_none=True))
        if problems:
            raise bad_request(
                _translated(request, "the automation settings are not valid"), _translated_problems(request, problems)
            )
        if await automation.apply_automation(db, flow_id, change) is None:
            raise not_found(f"no flow {shown(flow_id)}")
        view = await automation.automation_view(db, flow_id)
        assert view is not None
        return view

    @post("/webhook", operation_id="RegisterWebhook", status_code=200)
    async def register(self, db: Database, flow_id: str) -> dict[str, Any]:
        """Create (or re-activate) the flow's webhooks on its WooCommerce store."""
        from engine.webhooks import register_webhooks

        return await _change_webhooks(register_webhooks(db, flow_id), "registered")

    @delete("/webhook", operation_id="UnregisterWebhook", status_code=200)
    async def unregister(self, db: Database, flow_id: str) -> dict[str, Any]:
        """Remove the flow's webhooks from its WooCommerce store."""
        from engine.webhooks import unregister_webhooks

        return await _change_webhooks(unregister_webhooks(db, flow_id), "removed")

    @get("/webhook", operation_id="WebhookStatus")
    async def webhook(self, db: Database, flow_id: str, live: FromQuery[bool] = False) -> dict[str, Any]:
        """Registration, the store's status of each hook (``live=true`` asks the store), deliveries received."""
        from engine.webhooks import webhook_status

        try:
            return await webhook_status(db, flow_id, live=live)
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc

    @put("/cursors/{node_id:str}", operation_id="SetCursor")
    async def set_cursor(self, db: Database, flow_id: str, node_id: str, data: CursorIn) -> list[dict[str, Any]]:
        """Move a source's incremental position (empty: the next run reads everything again)."""
        try:
            flow = await store.get_flow(db, flow_id)
            await automation.set_cursor(db, flow_id, node_id, data.value)
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        return await automation.flow_cursors(db, flow)

    @post("/backfill", operation_id="Backfill", status_code=201)
    async def backfill(
        self, request: Request[Any, Any, Any], db: Database, flow_id: str, data: BackfillIn
    ) -> dict[str, Any]:
        """Run the flow over a date range or a list of records; the idempotency map books nothing twice."""
        from web.streams import run_view

        try:
            run = await automation.start_backfill(db, flow_id, **data.model_dump(), created_by=_user_email(request))
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        except store.FlowBusy as exc:
            raise conflict(str(exc)) from exc
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        return run_view(run)


class PrivacyController(Controller):
    path = "/api"
    tags = ["automation"]

    @post("/privacy/erase", operation_id="EraseByEmail", status_code=200)
    async def erase(self, db: Database, data: EraseIn) -> dict[str, Any]:
        """Remove a person's data from every stored log entry and run error; reports what was changed."""
        from engine.privacy import erase_by_email

        try:
            report = await erase_by_email(db, data.email)
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        return report.as_dict()

    @get("/health/flows", operation_id="FlowHealth")
    async def health(self, db: Database, days: Annotated[int, QueryParameter(ge=1, le=90)] = 7) -> dict[str, Any]:
        """Per flow: last success, minutes since, success rate, queued runs, pending webhook deliveries."""
        return await automation.health(db, days=max(1, min(days, 90)))


ROUTES = [AutomationController, PrivacyController]
