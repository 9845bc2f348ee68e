"""Test runs, the run page (live over SSE), the record drawer, the runs lists, re-run/retry and the inbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import func, select

from engine import store
from engine.models import Flow, LogEntry, Run, RunStatus
from nodes.registry import get_node_type
from web.api.runs import retry_params
from web.i18n import field_name, translate
from web.streams import follow_run
from web.ui.records import OUTCOMES, load_records, query_records, record_key_of
from web.ui.render import current_user, language_of, redirect, render, render_string

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("RUN_ROUTES", "invoice_summary")

PAGE = 50
LIVE_ROWS = 100


def step_names(request: Request[Any, Any, Any], document: dict[str, Any] | None) -> dict[str, str]:
    """Step id → what the log shows for it: the step's label, else its type's name (in the page's language)."""
    lang = language_of(request)
    names: dict[str, str] = {}
    for node in (document or {}).get("nodes", []):
        if not isinstance(node, dict):
            continue
        raw = node.get("config")
        config: dict[str, Any] = raw if isinstance(raw, dict) else {}
        cls = get_node_type(str(node.get("type")))
        label = node.get("label") or config.get("label") or (translate(lang, cls.title) if cls else None)
        names[str(node.get("id"))] = str(label or node.get("id"))
    return names


def readable_rows(
    value: Any, language: str = "en", prefix: str = "", depth: int = 0, limit: int = 60
) -> list[tuple[str, str]]:
    """A record as rows a person reads ("Billing → Country", "NL"; in Dutch "Factuuradres → Land"): nested objects
    flattened with arrows, lists of plain values joined, lists of objects counted (their items follow numbered);
    empty values left out."""
    rows: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).startswith("_"):
                continue  # links and internals
            name = field_name(language, str(key)) or str(key)
            label = f"{prefix} → {name}" if prefix else name
            if isinstance(item, dict | list) and depth < 3:
                rows.extend(readable_rows(item, language, label, depth + 1, limit))
            elif item not in (None, "", [], {}):
                rows.append((label, str(item)))
            if len(rows) >= limit:
                break
    elif isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            if value:
                rows.append((prefix, ", ".join(str(item) for item in value)))
        else:
            for index, item in enumerate(value[:10], start=1):
                rows.extend(readable_rows(item, language, f"{prefix} {index}", depth + 1, limit))
    elif value not in (None, ""):
        rows.append((prefix, str(value)))
    return rows[:limit]


def _email(request: Request[Any, Any, Any]) -> str | None:
    return getattr(current_user(request), "email", None)


async def _run(db: Database, run_id: str) -> Run:
    async with db.session() as session:
        run = await session.get(Run, run_id)
    if run is None:
        raise NotFoundException("This run does not exist.")
    return run


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value is not None else 0))
    except InvalidOperation:
        return Decimal(0)


def invoice_summary(payload: Any) -> dict[str, Any] | None:
    """Lines, VAT per code and totals of an invoice-like payload (anything with ``lines`` holding amounts)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("lines"), list):
        return None
    lines = [line for line in payload["lines"] if isinstance(line, dict)]
    if not lines or not any("amount" in line for line in lines):
        return None
    ex_vat = sum((_dec(line.get("amount")) for line in lines), Decimal(0))
    per_code: dict[str, Decimal] = {}
    for line in lines:
        code = str(line.get("vatCode") or "—")
        per_code[code] = per_code.get(code, Decimal(0)) + _dec(line.get("vatAmount"))
    vat = sum(per_code.values(), Decimal(0))
    return {"lines": lines, "ex_vat": ex_vat, "vat": vat, "incl_vat": ex_vat + vat, "per_code": per_code}


# ---- test runs -------------------------------------------------------------------------------------------------


@post("/flows/{flow_id:str}/test-run")
async def start_test_run(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """Dry run on the first N records (the canvas is saved first when it changed)."""
    form = await request.form()
    try:
        limit = max(1, min(int(str(form.get("limit") or "3")), 50))
    except ValueError:
        limit = 3
    try:
        current = await store.get_version(db, flow_id)
    except store.NotFound as exc:
        raise NotFoundException(str(exc)) from exc
    document = current.document
    posted = str(form.get("document") or "")
    if posted:
        try:
            candidate = json.loads(posted)
        except ValueError:
            candidate = None
        if isinstance(candidate, dict) and candidate != current.document:
            await store.save_version(db, flow_id, candidate, note="saved for a test run", created_by=_email(request))
            document = candidate
    problems = [p.as_dict() for p in await store.validate_flow_document(db, document)]
    if problems:
        return render(
            request,
            "fragments/problems.html",
            problems=problems,
            intro="Fix the flow before testing it:",
            headers={"HX-Trigger": json.dumps({"koppel:problems": {"problems": problems}})},
        )
    try:
        run = await store.start_flow_run(
            db, flow_id, trigger="test", params={"dry_run": True, "limit": limit}, created_by=_email(request)
        )
    except store.FlowBusy as exc:
        return render(request, "fragments/alert.html", kind="error", message=str(exc))
    return render(request, "fragments/test_run.html", run=run, records=[], finished=False)


@get("/runs/{run_id:str}/test-result")
async def test_result(request: Request[Any, Any, Any], db: Database, run_id: str) -> Response[str]:
    run = await _run(db, run_id)
    finished = run.status in RunStatus.FINISHED
    records: list[dict[str, Any]] = []
    if finished:
        async with db.session() as session:
            entries = list(
                (
                    await session.execute(
                        select(LogEntry).where(LogEntry.run_id == run_id).order_by(LogEntry.id).limit(100)
                    )
                ).scalars()
            )
        by_record: dict[str, dict[str, Any]] = {}
        for entry in entries:
            rec = by_record.setdefault(
                record_key_of(entry), {"key": entry.record_key, "entries": [], "detail": entry.detail or {}}
            )
            detail = entry.detail or {}
            rec["entries"].append({"entry": entry, "detail": detail, "invoice": invoice_summary(detail.get("request"))})
        records = list(by_record.values())
    steps = step_names(request, run.document)
    return render(request, "fragments/test_run.html", run=run, records=records, finished=finished, steps=steps)


# ---- run page ---------------------------------------------------------------------------------------------------


async def _log_page(
    db: Database, run_id: str, status: str | None, node: str | None, q: str | None, before_id: int | None
) -> dict[str, Any]:
    """One page of a run's log, the latest record first, as the run page and its table fragment show it: one row
    per record, whether more follow, the filters in force and where the page starts."""
    records = await query_records(
        db, run_id, status=status or None, node=node or None, q=q or None, before_id=before_id, limit=PAGE + 1
    )
    filters = {k: v for k, v in {"status": status, "node": node, "q": q}.items() if v}
    return {"records": records[:PAGE], "more": len(records) > PAGE, "filters": filters, "before_id": before_id}


@get("/runs/{run_id:str}")
async def run_page(
    request: Request[Any, Any, Any],
    db: Database,
    run_id: str,
    status: FromQuery[str | None] = None,
    node: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
    before_id: FromQuery[int | None] = None,
) -> Response[str]:
    run = await _run(db, run_id)
    async with db.session() as session:
        flow = await session.get(Flow, run.flow_id) if run.flow_id else None
        last_id = (await session.execute(select(func.max(LogEntry.id)).where(LogEntry.run_id == run_id))).scalar()
    nodes = [str(n.get("id")) for n in (run.document or {}).get("nodes", [])]
    return render(
        request,
        "run.html",
        run=run,
        flow=flow,
        **await _log_page(db, run_id, status, node, q, before_id),
        nodes=nodes,
        statuses=OUTCOMES,
        last_id=last_id or 0,
        live=run.status not in RunStatus.FINISHED,
        steps=step_names(request, run.document),
    )


@get("/runs/{run_id:str}/rows")
async def run_rows(
    request: Request[Any, Any, Any],
    db: Database,
    run_id: str,
    status: FromQuery[str | None] = None,
    node: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
    before_id: FromQuery[int | None] = None,
) -> Response[str]:
    """One page of the log table (filters and paging), newest first."""
    run = await _run(db, run_id)
    return render(
        request,
        "fragments/log_page.html",
        run=run,
        **await _log_page(db, run_id, status, node, q, before_id),
        live=run.status not in RunStatus.FINISHED,
        steps=step_names(request, run.document),
    )


@get("/runs/{run_id:str}/stream")
async def run_stream(
    request: Request[Any, Any, Any], db: Database, run_id: str, after_id: FromQuery[int] = 0
) -> ServerSentEvent:
    """SSE of HTML: ``entry`` = the rows of the records that have new entries (latest on top; a record already on
    the page is replaced by its row, see static/app.js), ``run`` = progress and counts, ``close`` at the end."""
    steps = step_names(request, (await _run(db, run_id)).document)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        async for run, entries in follow_run(db, run_id, after_id=after_id):
            if entries:
                keys = list(dict.fromkeys(record_key_of(e) for e in reversed(entries)))[:LIVE_ROWS]
                records = await load_records(db, run_id, keys)
                rows = render_string(request, "fragments/log_rows.html", records=records, steps=steps)
                yield ServerSentEventMessage(event="entry", data=rows, id=str(entries[-1].id))
            yield ServerSentEventMessage(event="run", data=render_string(request, "fragments/run_live.html", run=run))
            if run.status in RunStatus.FINISHED and not entries:
                break
        yield ServerSentEventMessage(event="close", data="end")

    return ServerSentEvent(stream())


@get("/runs/{run_id:str}/live")
async def run_live(request: Request[Any, Any, Any], db: Database, run_id: str) -> Response[str]:
    return render(request, "fragments/run_live.html", run=await _run(db, run_id))


@get("/logs/{entry_id:int}")
async def record_drawer(request: Request[Any, Any, Any], db: Database, entry_id: int) -> Response[str]:
    """The record's whole journey in this run: source payload, each node's output, request, answer, error."""
    async with db.session() as session:
        entry = await session.get(LogEntry, entry_id)
    if entry is None:
        raise NotFoundException("This log entry does not exist.")
    records = await load_records(db, entry.run_id, [record_key_of(entry)])
    journey = records[0].entries[:40] if records else [entry]
    source = next(((e.detail or {}).get("input") for e in journey if (e.detail or {}).get("input") is not None), None)
    run = await _run(db, entry.run_id)
    # In the drawer of a page (htmx), or as a page of its own when the address is opened directly.
    return render(
        request,
        "fragments/drawer.html" if request.headers.get("hx-request") else "record.html",
        entry=entry,
        journey=journey,
        source=source,
        steps=step_names(request, run.document),
        readable=partial(readable_rows, language=language_of(request)),
        invoice_summary=invoice_summary,
    )


# ---- runs lists, re-run, retry, cancel ------------------------------------------------------------------------


async def _runs_page(
    request: Request[Any, Any, Any], db: Database, flow_id: str | None, status: str | None, page: int
) -> Response[str]:
    page = max(1, page)
    total, runs = await store.list_runs(db, flow_id=flow_id, status=status, page=page, per_page=PAGE)
    async with db.session() as session:
        ids = {r.flow_id for r in runs if r.flow_id}
        names = (
            dict((await session.execute(select(Flow.id, Flow.name).where(Flow.id.in_(ids)))).tuples().all())
            if ids
            else {}
        )
        flow = await session.get(Flow, flow_id) if flow_id else None
    if flow_id and flow is None:
        raise NotFoundException("This flow does not exist.")
    return render(
        request,
        "runs.html",
        runs=runs,
        names=names,
        flow=flow,
        total=total,
        page=page,
        pages=max(1, (total + PAGE - 1) // PAGE),
        status=status or "",
        statuses=sorted(RunStatus.FINISHED | {RunStatus.QUEUED, RunStatus.RUNNING}),
    )


@get("/runs")
async def runs_list(
    request: Request[Any, Any, Any], db: Database, status: FromQuery[str | None] = None, page: FromQuery[int] = 1
) -> Response[str]:
    return await _runs_page(request, db, None, status, page)


@get("/flows/{flow_id:str}/runs")
async def flow_runs(
    request: Request[Any, Any, Any],
    db: Database,
    flow_id: str,
    status: FromQuery[str | None] = None,
    page: FromQuery[int] = 1,
) -> Response[str]:
    return await _runs_page(request, db, flow_id, status, page)


async def _again(request: Request[Any, Any, Any], db: Database, run_id: str, *, retry_only: bool) -> Response[str]:
    run = await _run(db, run_id)
    if run.flow_id is None:
        return render(request, "fragments/alert.html", kind="error", message="This run has no stored flow.")
    params = {k: v for k, v in run.params.items() if k not in ("connections_sealed", "record_ids", "retry_of")}
    if retry_only:
        ids = await retry_params(db, run_id)
        if not ids:
            return render(
                request, "fragments/alert.html", kind="info", message="This run has no failed or waiting records."
            )
        params["record_ids"] = ids
    params["retry_of"] = run_id
    try:
        new = await store.start_flow_run(db, run.flow_id, trigger="retry", params=params, created_by=_email(request))
    except store.FlowBusy as exc:
        return render(request, "fragments/alert.html", kind="error", message=str(exc))
    return redirect(request, f"/runs/{new.id}")


@post("/runs/{run_id:str}/rerun")
async def rerun(request: Request[Any, Any, Any], db: Database, run_id: str) -> Response[str]:
    return await _again(request, db, run_id, retry_only=False)


@post("/runs/{run_id:str}/retry")
async def retry_failed(request: Request[Any, Any, Any], db: Database, run_id: str) -> Response[str]:
    return await _again(request, db, run_id, retry_only=True)


@post("/logs/{entry_id:int}/book-correction")
async def book_correction(request: Request[Any, Any, Any], db: Database, entry_id: int) -> Response[str]:
    """The inbox's "Book the correction": run the flow for that record, allowed to credit and rebook it."""
    try:
        new = await store.start_correction_run(db, entry_id, created_by=_email(request))
    except (store.FlowBusy, LookupError) as exc:
        return render(request, "fragments/alert.html", kind="error", message=str(exc))
    return redirect(request, f"/runs/{new.id}")


@post("/runs/{run_id:str}/cancel")
async def cancel(request: Request[Any, Any, Any], db: Database, run_id: str) -> Response[str]:
    from engine.service import cancel_run

    await cancel_run(db, run_id)
    return redirect(request, f"/runs/{run_id}")


# ---- retry one record (a failed record the inbox lists) -------------------------------------------------------


@post("/inbox/{entry_id:int}/retry")
async def retry_entry(request: Request[Any, Any, Any], db: Database, entry_id: int) -> Response[str]:
    """Run the entry's flow again for this one record (read by id; the cursor stays)."""
    from engine.automation import start_backfill
    from engine.models import LogEntry

    async with db.session() as session:
        entry = await session.get(LogEntry, entry_id)
    if entry is None or not entry.flow_id or not entry.source_id:
        return render(request, "fragments/alert.html", kind="error", message="This record cannot be retried.")
    try:
        new = await start_backfill(db, entry.flow_id, record_ids=[entry.source_id], created_by=_email(request))
    except (store.FlowBusy, store.NotFound, ValueError) as exc:
        return render(request, "fragments/alert.html", kind="error", message=str(exc))
    return redirect(request, f"/runs/{new.id}")


RUN_ROUTES = [
    start_test_run,
    test_result,
    run_page,
    run_rows,
    run_stream,
    run_live,
    record_drawer,
    runs_list,
    flow_runs,
    rerun,
    retry_failed,
    cancel,
    retry_entry,
    book_correction,
]
