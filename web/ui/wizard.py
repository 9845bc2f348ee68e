"""The setup wizard for newcomers: connect WooCommerce and Asperion, pick flows, answer questions, test, activate.

Stateless: the chosen connections and templates travel in the query string and hidden fields; the answers live in
the created flows' documents; test runs and schedules are the flows' own (the same functions as the flow page).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from pydantic import ValidationError
from sqlalchemy import select

from engine import store
from engine.models import Flow, Run
from nodes.base import SourceNode
from nodes.registry import get_node_type
from web.i18n import translate
from web.ui.forms import Widget, build_widgets
from web.ui.gallery import connection_slots, use_connections
from web.ui.render import current_user, language_of, redirect, render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("DEFAULT_EVERY_MINUTES", "TEST_LIMIT", "WIZARD_ROUTES", "apply_answers", "wizard_questions")

log = logging.getLogger(__name__)

TEST_LIMIT = 3
"""Records read by the wizard's test run of each flow."""
DEFAULT_EVERY_MINUTES = 15
PREVIEW_TIMEOUT_S = 10.0
"""How long the wizard waits for the application to count records or propose a start date."""
STEPS = ("WooCommerce", "Asperion", "Flows", "Questions", "Test run", "Activate")
APP_STEP = {"woocommerce": 1, "asperion": 2}
_SWAP = {"HX-Retarget": "#wizard", "HX-Reswap": "outerHTML", "HX-Reselect": "#wizard"}


def _apps() -> dict[str, Any]:
    from nodes.connectors.registry import connectors

    return dict(connectors())


def _email(request: Request[Any, Any, Any]) -> str | None:
    return getattr(current_user(request), "email", None)


def _url(path: str, **params: Any) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item not in (None, ""):
                pairs.append((key, str(item)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _templates(chosen: list[str] | None = None) -> list[dict[str, Any]]:
    from engine.templates import TEMPLATE_INFO, get_template, list_templates

    names = list_templates()
    out = []
    for name in names if chosen is None else [n for n in names if n in chosen]:
        info = TEMPLATE_INFO.get(name, {})
        document = get_template(name)
        out.append(
            {
                "name": name,
                "title": str(info.get("title") or document.get("name") or name),
                "description": str(info.get("description") or document.get("description") or ""),
                "document": document,
            }
        )
    return out


# ---- questions ------------------------------------------------------------------------------------------------


def _node_schema(node: dict[str, Any]) -> dict[str, Any] | None:
    cls = get_node_type(str(node.get("type", "")))
    if cls is None or cls.config_model is None:
        return None
    return dict(cls.config_model.model_json_schema())


def _is_date(schema: dict[str, Any], field: str) -> bool:
    prop = (schema.get("properties") or {}).get(field) or {}
    variants = prop.get("anyOf") or [prop]
    return any(isinstance(v, dict) and v.get("format") == "date" for v in variants)


def wizard_questions(template: str, document: dict[str, Any], connections: dict[str, str]) -> list[dict[str, Any]]:
    """The template's questions with the widget of the field they set (its current value = the template default).

    Each item: ``name`` (form field), ``question``, ``field``, ``nodes`` (the ids present in ``document``) and
    ``widget`` (a :class:`web.ui.forms.Widget`; ``date`` for date fields). A ``propose: today`` question gets today;
    ``propose: recent`` is filled in by :func:`propose_dates` (it asks the application). ``counted`` marks a source's
    date, whose page shows how many records it selects.
    """
    from engine.templates import questions

    by_id = {str(n.get("id")): n for n in document.get("nodes", [])}
    out = []
    for number, q in enumerate(questions(template)):
        present = [nid for nid in q.get("nodes", []) if nid in by_id]
        if not present:
            continue
        node = by_id[present[0]]
        schema = _node_schema(node)
        if schema is None:
            continue
        cls = get_node_type(str(node.get("type")))
        found = [
            w
            for w in build_widgets(
                schema, dict(node.get("config") or {}), node_app=getattr(cls, "app", None), connections=connections
            )
            if w.name == q["field"]
        ]
        if not found:
            continue
        widget: Widget = found[0]
        if _is_date(schema, q["field"]):
            widget.widget = "date"
        if q.get("propose") == "today" and widget.value in (None, ""):
            widget.value = datetime.now(UTC).date().isoformat()
        counted = widget.widget == "date" and cls is not None and issubclass(cls, SourceNode)
        out.append(
            {
                "propose": q.get("propose"),
                "counted": counted,
                "name": f"q{number}-{q['field']}",
                # the form field is the template's own: two flows asking the same question never share answers
                "input": f"{template}:q{number}-{q['field']}",
                "question": str(q["question"]),
                "field": q["field"],
                "nodes": present,
                "widget": widget,
            }
        )
    return out


def _read_answer(form: Any, question: dict[str, Any]) -> Any:
    widget: Widget = question["widget"]
    name = question.get("input") or question["name"]
    if widget.widget == "checkbox":
        return form.get(name) in ("on", "1", "true")
    if widget.widget == "multiselect":
        return [str(v) for v in form.getall(name, []) if str(v)]
    if widget.widget == "lines":
        return [line.strip() for line in str(form.get(name) or "").splitlines() if line.strip()]
    raw = str(form.get(name) or "").strip()
    if widget.widget == "number":
        if not raw:
            return None
        try:
            return int(raw) if widget.value_type == "integer" else float(raw)
        except ValueError:
            return raw
    if not raw and (widget.nullable or widget.widget == "date"):
        return None
    return raw


def apply_answers(
    document: dict[str, Any], answers: list[tuple[dict[str, Any], Any]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``document`` with every answer set on its nodes, and the problems by question name (node configs validated)."""
    nodes = [dict(n) for n in document.get("nodes", [])]
    by_id = {str(n.get("id")): n for n in nodes}
    problems: dict[str, str] = {}
    for question, value in answers:
        for node_id in question["nodes"]:
            node = by_id[node_id]
            node["config"] = {**(node.get("config") or {}), question["field"]: value}
    for question, _value in answers:
        for node_id in question["nodes"]:
            node = by_id[node_id]
            cls = get_node_type(str(node.get("type")))
            if cls is None or cls.config_model is None:
                continue
            try:
                cls.config_model.model_validate(node["config"])
            except ValidationError as exc:
                for error in exc.errors():
                    if error.get("loc") and error["loc"][0] == question["field"]:
                        problems.setdefault(question["name"], str(error.get("msg") or "not valid"))
    return {**document, "nodes": nodes}, problems


async def propose_dates(db: Database, document: dict[str, Any], asked: list[dict[str, Any]]) -> None:
    """Fill the ``propose: recent`` dates still empty with a date from which the source finds records
    (:func:`engine.sampling.propose_start`); 30 days back when the application cannot be asked."""
    from engine.sampling import RECENT_DAYS, propose_start

    by_id = {str(n.get("id")): n for n in document.get("nodes", [])}
    for question in asked:
        widget: Widget = question["widget"]
        if question.get("propose") != "recent" or widget.value not in (None, ""):
            continue
        try:
            async with asyncio.timeout(PREVIEW_TIMEOUT_S):
                start = await propose_start(db, by_id[question["nodes"][0]], question["field"])
        except Exception:  # an unreachable shop must not stop the wizard: the usual choice then
            log.info("no start date proposed for %s", question["name"], exc_info=True)
            start = datetime.now(UTC).date() - timedelta(days=RECENT_DAYS)
        widget.value = start.isoformat()


# ---- pages ----------------------------------------------------------------------------------------------------


async def _connection_page(
    request: Request[Any, Any, Any],
    db: Database,
    app_name: str,
    state: dict[str, Any],
    *,
    values: dict[str, Any] | None = None,
    problems: list[str] | None = None,
    result: dict[str, Any] | None = None,
    existing: str = "",
    conn_id: str = "",
    name: str = "",
) -> Response[str]:
    app = _apps()[app_name]
    rows = await store.list_connections(db)
    choices = [row for row in rows if row.app == app_name]
    if not name:
        taken = {row.name for row in rows}
        name, n = app_name, 2
        while name in taken:
            name, n = f"{app_name}-{n}", n + 1
    return render(
        request,
        "wizard.html",
        step=APP_STEP[app_name],
        steps=STEPS,
        state=state,
        app=app,
        choices=choices,
        existing=existing,
        values=values or {},
        problems=problems or [],
        result=result,
        conn_id=conn_id,
        name=name,
        headers=_SWAP if request.headers.get("hx-request") else None,
    )


@get("/wizard")
async def wizard_start(request: Request[Any, Any, Any], db: Database, woo: FromQuery[str] = "") -> Response[str]:
    """Step 1: the WooCommerce store."""
    return await _connection_page(request, db, "woocommerce", {"woo": woo}, existing=woo)


@get("/wizard/asperion")
async def wizard_asperion(
    request: Request[Any, Any, Any], db: Database, woo: FromQuery[str] = "", asp: FromQuery[str] = ""
) -> Response[str]:
    """Step 2: the Asperion administration."""
    if not woo:
        return redirect(request, "/wizard")
    return await _connection_page(request, db, "asperion", {"woo": woo, "asp": asp}, existing=asp)


@post("/wizard/connection")
async def wizard_connection(
    request: Request[Any, Any, Any], db: Database, go: FromQuery[str] = "next"
) -> Response[str]:
    """Save (or pick) the connection, test it and, on ``go=next`` when it works, go to the next step."""
    form = await request.form()
    apps = _apps()
    app_name = str(form.get("app") or "")
    if app_name not in APP_STEP:
        app_name = "woocommerce"
    app = apps[app_name]
    state = {"woo": str(form.get("woo") or ""), "asp": str(form.get("asp") or "")}
    existing = str(form.get("existing") or "").strip()
    conn_id = str(form.get("id") or "").strip()
    name = str(form.get("name") or "").strip()
    values = {f.name: str(form.get(f.name) or "").strip() for f in app.fields if not f.secret}
    if existing:
        try:
            row = await store.get_connection(db, existing)
        except store.NotFound:
            return await _connection_page(
                request, db, app_name, state, problems=["This connection does not exist."], values=values, name=name
            )
    else:
        fields: dict[str, Any] = {}
        for field in app.fields:
            value = str(form.get(field.name) or "").strip()
            if field.kind == "integer" and value:
                with contextlib.suppress(ValueError):
                    fields[field.name] = int(value)
                fields.setdefault(field.name, value)
            elif value or (not field.secret and field.required):
                fields[field.name] = value
        try:
            row = await store.save_connection(db, name=name, app=app_name, fields=fields, connection_id=conn_id or None)
        except (store.InvalidConnection, store.NotFound) as exc:
            problems = list(getattr(exc, "problems", None) or [str(exc)])
            return await _connection_page(
                request, db, app_name, state, values=values, problems=problems, conn_id=conn_id, name=name
            )
    try:
        result = await store.test_connection(db, row.id)
    except Exception as exc:  # the application's answer, whatever it is, is shown to the user
        result = {"ok": False, "message": str(exc) or type(exc).__name__, "can_write": None}
    state = {**state, ("woo" if app_name == "woocommerce" else "asp"): row.name}
    if go == "next" and result.get("ok"):
        if app_name == "woocommerce":
            return redirect(request, _url("/wizard/asperion", woo=row.name, asp=state["asp"]))
        return redirect(request, _url("/wizard/flows", woo=state["woo"], asp=row.name))
    if existing:
        return await _connection_page(request, db, app_name, state, result=result, existing=row.name)
    return await _connection_page(
        request, db, app_name, state, result=result, values=values, conn_id=row.id, name=row.name
    )


@get("/wizard/flows")
async def wizard_flows(
    request: Request[Any, Any, Any],
    db: Database,
    woo: FromQuery[str] = "",
    asp: FromQuery[str] = "",
    t: FromQuery[list[str] | None] = None,
    batch: FromQuery[str] = "",
) -> Response[str]:
    """Step 3: which flows."""
    if not woo or not asp:
        return redirect(request, _url("/wizard/asperion" if woo else "/wizard", woo=woo))
    return _flows_page(request, {"woo": woo, "asp": asp, "batch": batch}, list(t or []))


def _flows_page(
    request: Request[Any, Any, Any], state: dict[str, str], chosen: list[str], error: str | None = None
) -> Response[str]:
    """Step 3 with the templates to choose from, the ones chosen and what is wrong with the choice."""
    return render(
        request, "wizard.html", step=3, steps=STEPS, state=state, templates=_templates(), chosen=chosen, error=error
    )


async def _batch_flows(db: Database, batch: str, chosen: list[str]) -> dict[str, tuple[Any, dict[str, Any]]]:
    """The flows this wizard pass (``batch``) made already, by template, with their current documents."""
    if not batch:
        return {}
    async with db.session() as session:
        rows = list((await session.execute(select(Flow).where(Flow.template.in_(chosen)))).scalars())
    out: dict[str, tuple[Any, dict[str, Any]]] = {}
    for row in rows:
        if (row.settings or {}).get("wizard") == batch and row.template not in out:
            out[str(row.template)] = (row, (await store.get_version(db, row.id)).document)
    return out


def _document(base: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """``base`` (the template's document or the flow made from it) using the chosen connections."""
    chosen = {"woocommerce": state.get("woo"), "asperion": state.get("asp")}
    mapping = {slot: str(chosen.get(app) or slot) for slot, app in connection_slots(base).items()}
    return use_connections(base, mapping)


async def _questions_page(
    request: Request[Any, Any, Any],
    db: Database,
    state: dict[str, Any],
    chosen: list[str],
    *,
    form: Any = None,
    problems: dict[str, str] | None = None,
) -> Response[str]:
    connections = await store.connection_apps(db)
    made = await _batch_flows(db, str(state.get("batch") or ""), chosen)
    items = []
    for template in _templates(chosen):
        base = made[template["name"]][1] if template["name"] in made else template["document"]
        document = _document(base, state)
        asked = wizard_questions(template["name"], document, connections)
        if form is not None:
            for question in asked:
                question["widget"].value = _read_answer(form, question)
        else:
            await propose_dates(db, document, asked)
        items.append({**template, "questions": asked})
    return render(
        request,
        "wizard.html",
        step=4,
        steps=STEPS,
        state=state,
        items=items,
        chosen=chosen,
        problems=problems or {},
        headers=_SWAP if request.headers.get("hx-request") else None,
    )


ORDER_TYPES = ("orders-to-sales-invoices", "orders-to-sales-orders")
"""The order type: each order becomes either a sales invoice or a sales order, never both."""


def _choice_problem(chosen: list[str]) -> str | None:
    if not chosen:
        return "Choose at least one flow."
    if all(name in chosen for name in ORDER_TYPES):
        return "Choose sales invoices or sales orders for your orders, not both: each order would be booked twice."
    return None


@get("/wizard/questions")
async def wizard_questions_page(
    request: Request[Any, Any, Any],
    db: Database,
    woo: FromQuery[str] = "",
    asp: FromQuery[str] = "",
    t: FromQuery[list[str] | None] = None,
    batch: FromQuery[str] = "",
) -> Response[str]:
    """Step 4: the few questions of each chosen template (prefilled with the defaults, or the answers given)."""
    known = {template["name"] for template in _templates()}
    chosen = [name for name in (t or []) if name in known]
    error = _choice_problem(chosen)
    if error:
        return _flows_page(request, {"woo": woo, "asp": asp, "batch": batch}, chosen, error)
    state = {"woo": woo, "asp": asp, "batch": batch or uuid.uuid4().hex}
    return await _questions_page(request, db, state, chosen)


@post("/wizard/create")
async def wizard_create(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Create one flow per chosen template with the answers (or update the ones made before), and test each."""
    from engine import automation

    form = await request.form()
    state = {key: str(form.get(key) or "") for key in ("woo", "asp", "batch")}
    state["batch"] = state["batch"] or uuid.uuid4().hex
    known = {template["name"] for template in _templates()}
    chosen = [str(name) for name in form.getall("t", []) if str(name) in known]
    if _choice_problem(chosen):
        return redirect(request, _url("/wizard/flows", woo=state["woo"], asp=state["asp"]))
    connections = await store.connection_apps(db)
    made = await _batch_flows(db, state["batch"], chosen)
    documents: list[tuple[str, dict[str, Any]]] = []
    problems: dict[str, str] = {}
    lang = language_of(request)
    for template in _templates(chosen):
        name = template["name"]
        base = made[name][1] if name in made else {**template["document"], "name": translate(lang, template["title"])}
        document = _document(base, state)
        asked = wizard_questions(name, document, connections)
        document, found = apply_answers(document, [(q, _read_answer(form, q)) for q in asked])
        problems.update({f"{name}:{key}": message for key, message in found.items()})
        documents.append((name, document))
    if problems:
        return await _questions_page(request, db, state, chosen, form=form, problems=problems)
    flow_ids = []
    for name, document in documents:
        if name in made:
            flow, before = made[name]
            if document != before:
                await store.save_version(
                    db, flow.id, document, note="answers changed in the setup wizard", created_by=_email(request)
                )
        else:
            flow = await store.create_flow(
                db, document, note="created by the setup wizard", created_by=_email(request), template=name
            )
            await automation.apply_automation(db, flow.id, {"settings": {"wizard": state["batch"]}})
        flow_ids.append(flow.id)
        if not await store.validate_flow_document(db, document):
            with contextlib.suppress(store.FlowBusy):
                await store.start_flow_run(
                    db,
                    flow.id,
                    trigger="test",
                    params={"dry_run": True, "limit": TEST_LIMIT},
                    created_by=_email(request),
                )
    return redirect(
        request, _url("/wizard/test", flow=flow_ids, woo=state["woo"], asp=state["asp"], t=chosen, batch=state["batch"])
    )


@get("/wizard/count")
async def wizard_count(
    request: Request[Any, Any, Any], db: Database, template: FromQuery[str] = "", question: FromQuery[str] = ""
) -> Response[str]:
    """How many records the flow of ``template`` would read from the date its ``question`` is answered with (the
    other answers of the form count too, e.g. the order statuses): the line under the start date."""
    from engine.sampling import would_read
    from engine.templates import TEMPLATE_INFO, get_template

    if template not in TEMPLATE_INFO:
        return render(request, "fragments/wizard_count.html", count=None, start=None, error=None, noun="records")
    answers = request.query_params
    state = {key: str(answers.get(key) or "") for key in ("woo", "asp", "batch")}
    made = await _batch_flows(db, state["batch"], [template])
    document = _document(made[template][1] if template in made else get_template(template), state)
    asked = wizard_questions(template, document, await store.connection_apps(db))
    found = [q for q in asked if q["name"] == question and q["counted"]]
    if not found:
        return render(request, "fragments/wizard_count.html", count=None, start=None, error=None, noun="records")
    document, _problems = apply_answers(document, [(q, _read_answer(answers, q)) for q in asked])
    node = next(n for n in document["nodes"] if str(n.get("id")) == found[0]["nodes"][0])
    raw = (node.get("config") or {}).get(found[0]["field"])
    start = None
    with contextlib.suppress(TypeError, ValueError):
        start = date.fromisoformat(str(raw)) if raw else None
    count, error = None, None
    try:
        async with asyncio.timeout(PREVIEW_TIMEOUT_S):
            count = await would_read(db, node, found[0]["field"], start)
    except Exception as exc:  # shown beside the date: the wizard goes on without the preview
        error = str(exc) or type(exc).__name__
    cls = get_node_type(str(node.get("type")))
    noun = cls.noun if cls is not None and issubclass(cls, SourceNode) else "records"
    return render(request, "fragments/wizard_count.html", count=count, start=start, error=error, noun=noun)


async def _flows(db: Database, flow_ids: list[str]) -> list[Any]:
    flows = []
    for flow_id in flow_ids:
        with contextlib.suppress(store.NotFound):
            flows.append(await store.get_flow(db, flow_id))
    return flows


@get("/wizard/test")
async def wizard_test(
    request: Request[Any, Any, Any],
    db: Database,
    flow: FromQuery[list[str] | None] = None,
    woo: FromQuery[str] = "",
    asp: FromQuery[str] = "",
    t: FromQuery[list[str] | None] = None,
    batch: FromQuery[str] = "",
) -> Response[str]:
    """Step 5: each new flow's test run on its first records (polled until finished), and a button to run it again."""
    items = []
    for row in await _flows(db, list(flow or [])):
        version = await store.get_version(db, row.id)
        problems = [p.as_dict() for p in await store.validate_flow_document(db, version.document)]
        async with db.session() as session:
            run = (
                await session.execute(
                    select(Run)
                    .where(Run.flow_id == row.id, Run.trigger == "test")
                    .order_by(Run.created_at.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        items.append({"flow": row, "run": run, "problems": problems})
    if not items:
        return redirect(request, "/wizard")
    back = _url("/wizard/questions", woo=woo, asp=asp, t=list(t or []), batch=batch) if batch and t else None
    return render(
        request,
        "wizard.html",
        step=5,
        steps=STEPS,
        state={},
        items=items,
        limit=TEST_LIMIT,
        back_url=back,
        next_url=_url(
            "/wizard/activate", flow=[i["flow"].id for i in items], woo=woo, asp=asp, t=list(t or []), batch=batch
        ),
    )


@get("/wizard/activate")
async def wizard_activate_page(
    request: Request[Any, Any, Any],
    db: Database,
    flow: FromQuery[list[str] | None] = None,
    done: FromQuery[bool] = False,
) -> Response[str]:
    """Step 6: how often each flow runs, and switch them on."""
    flows = await _flows(db, list(flow or []))
    if not flows:
        return redirect(request, "/wizard")
    return render(
        request,
        "wizard.html",
        step=6,
        steps=STEPS,
        state={},
        flows=flows,
        done=done,
        every={f.id: DEFAULT_EVERY_MINUTES for f in flows},
        problems={},
        default_every=DEFAULT_EVERY_MINUTES,
        back_url="/wizard/test?" + urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "done"]),
    )


@post("/wizard/activate")
async def wizard_activate(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Give every chosen flow its interval schedule and switch it on (the flow page's automation functions)."""
    from engine import automation

    form = await request.form()
    flows = await _flows(db, [str(v) for v in form.getall("flow", [])])
    if not flows:
        return redirect(request, "/wizard")
    changes: dict[str, dict[str, Any]] = {}
    problems: dict[str, str] = {}
    every: dict[str, Any] = {}
    for row in flows:
        raw = str(form.get(f"every-{row.id}") or "").strip()
        every[row.id] = raw
        minutes = int(raw) if raw.isdigit() else 0
        change, found = automation.validate_automation(
            {"trigger": {"type": "interval", "every_s": minutes * 60}, "active": True}
        )
        if found or minutes < 1:
            problems[row.id] = "Give a whole number of minutes, at least 1."
        changes[row.id] = change
    if problems:
        return render(
            request,
            "wizard.html",
            step=6,
            steps=STEPS,
            state={},
            flows=flows,
            done=False,
            every=every,
            problems=problems,
            default_every=DEFAULT_EVERY_MINUTES,
            headers=_SWAP if request.headers.get("hx-request") else None,
        )
    for row in flows:
        await automation.apply_automation(db, row.id, changes[row.id])
    return redirect(request, _url("/wizard/activate", flow=[f.id for f in flows], done="true"))


WIZARD_ROUTES = [
    wizard_start,
    wizard_asperion,
    wizard_connection,
    wizard_flows,
    wizard_questions_page,
    wizard_create,
    wizard_count,
    wizard_test,
    wizard_activate_page,
    wizard_activate,
]
