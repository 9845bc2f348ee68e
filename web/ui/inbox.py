"""The inbox: records a person can act on, grouped by what they wait for, fixed and retried in place.

Waiting records are grouped by the value a mapping table lacks ("klarna → Payment condition per payment method");
filling the value there saves the flow and retries exactly those records. Failed records are listed with their
reason and a Retry. Test runs never appear: nothing of theirs was meant to be delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from sqlalchemy import select

from engine import store
from engine.models import Flow, LogEntry, Run
from nodes.registry import get_node_type
from web.i18n import translate
from web.ui.render import current_user, language_of, render
from web.ui.runs import step_names

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("INBOX_ROUTES", "inbox_groups")

SCAN = 2000
"""How many open entries one inbox page looks at (newest first)."""


@dataclass
class Group:
    """Records of one flow that wait for the same thing (a mapping row) or failed at the same step."""

    flow_id: str
    flow_name: str
    node_id: str
    step: str
    table: str = ""
    table_title: str = ""
    key: str = ""
    reason: str = ""
    records: dict[str, LogEntry] = field(default_factory=dict)

    @property
    def ident(self) -> str:
        return f"{self.flow_id}-{self.node_id}-{self.table}-{self.key}-{self.reason}"[:200]


def _table_title(document: dict[str, Any], node_id: str, table: str, lang: str) -> str:
    node = next((n for n in document.get("nodes", []) if isinstance(n, dict) and n.get("id") == node_id), None)
    cls = get_node_type(str(node.get("type"))) if node else None
    if cls is None:
        return table
    prop = (cls.describe()["config_schema"].get("properties") or {}).get(table) or {}
    return translate(lang, str(prop.get("title") or table))


async def _open_entries(db: Database, status: str) -> list[tuple[LogEntry, Run]]:
    async with db.session() as session:
        rows = await session.execute(
            select(LogEntry, Run)
            .join(Run, Run.id == LogEntry.run_id)
            .where(LogEntry.status == status, LogEntry.resolved.is_(False), Run.trigger != "test")
            .order_by(LogEntry.id.desc())
            .limit(SCAN)
        )
        return [(entry, run) for entry, run in rows.all() if not (run.params or {}).get("dry_run")]


async def inbox_groups(request: Request[Any, Any, Any], db: Database) -> tuple[list[Group], list[Group]]:
    """(waiting groups, failed groups); a record is listed once, by its newest entry."""
    lang = language_of(request)
    flows: dict[str, Flow] = {}
    documents: dict[str, dict[str, Any]] = {}

    async def flow_of(flow_id: str) -> tuple[str, dict[str, Any]]:
        if flow_id not in flows:
            async with db.session() as session:
                flow = await session.get(Flow, flow_id)
            if flow is None:
                return "—", {}
            flows[flow_id] = flow
            documents[flow_id] = (await store.get_version(db, flow_id)).document
        return flows[flow_id].name, documents[flow_id]

    out: list[list[Group]] = []
    for status in ("waiting", "failed"):
        groups: dict[tuple[str, ...], Group] = {}
        seen: set[tuple[str, str]] = set()
        for entry, _run in await _open_entries(db, status):
            if not entry.flow_id or (entry.flow_id, entry.source_id) in seen:
                continue
            seen.add((entry.flow_id, entry.source_id))
            name, document = await flow_of(entry.flow_id)
            missing = (entry.detail or {}).get("missing") or {}
            table, key = str(missing.get("table") or ""), str(missing.get("key") or "")
            reason = "" if status == "waiting" and table else entry.message
            ident = (entry.flow_id, entry.node_id, table, key, reason)
            if ident not in groups:
                groups[ident] = Group(
                    flow_id=entry.flow_id,
                    flow_name=name,
                    node_id=entry.node_id,
                    step=step_names(request, document).get(entry.node_id, entry.node_id),
                    table=table,
                    table_title=_table_title(document, entry.node_id, table, lang) if table else "",
                    key=key,
                    reason=reason,
                )
            groups[ident].records[entry.source_id] = entry
        out.append(sorted(groups.values(), key=lambda g: -len(g.records)))
    return out[0], out[1]


@get("/inbox")
async def inbox(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """What waits for a person, grouped; failed records with their reason."""
    waiting, failed = await inbox_groups(request, db)
    return render(request, "inbox.html", waiting=waiting, failed=failed)


async def _group(request: Request[Any, Any, Any], db: Database, ident: str) -> Group | None:
    waiting, failed = await inbox_groups(request, db)
    return next((g for g in [*waiting, *failed] if g.ident == ident), None)


async def _retry(request: Request[Any, Any, Any], db: Database, group: Group) -> Response[str]:
    user = getattr(current_user(request), "email", None)
    params = {"record_ids": sorted(group.records)}
    try:
        run = await store.start_flow_run(db, group.flow_id, trigger="retry", params=params, created_by=user)
    except store.FlowBusy as exc:
        return render(request, "fragments/alert.html", kind="error", message=str(exc))
    return render(request, "fragments/inbox_started.html", run=run, count=len(group.records))


@post("/inbox/fill")
async def fill_and_retry(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Put the missing row into the step's table (a new flow version), then retry the records that waited for it."""
    form = await request.form()
    group = await _group(request, db, str(form.get("group", "")))
    value = str(form.get("value", "")).strip()
    if group is None or not group.table:
        return render(request, "fragments/alert.html", kind="error", message="These records no longer wait.")
    if not value:
        return render(request, "fragments/alert.html", kind="error", message="Fill in the value first.")
    document = (await store.get_version(db, group.flow_id)).document
    for node in document.get("nodes", []):
        if isinstance(node, dict) and node.get("id") == group.node_id:
            config = node.setdefault("config", {})
            table = config.get(group.table) if isinstance(config.get(group.table), dict) else {}
            config[group.table] = {**table, group.key: value}
    user = getattr(current_user(request), "email", None)
    await store.save_version(db, group.flow_id, document, note="mapping added in the inbox", created_by=user)
    return await _retry(request, db, group)


@post("/inbox/retry")
async def retry_group(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Run the group's records again (after fixing their cause elsewhere)."""
    form = await request.form()
    group = await _group(request, db, str(form.get("group", "")))
    if group is None:
        return render(request, "fragments/alert.html", kind="error", message="These records no longer wait.")
    return await _retry(request, db, group)


INBOX_ROUTES = [inbox, fill_and_retry, retry_group]
