"""The setup wizard for newcomers: connect the applications, pick flows, answer questions, test, activate.

One connection step per application the templates use (from the connector registry, in its order, with the form of
the connector's credentials model); an application only some templates need can be skipped, and those templates
then wait until it is connected. Stateless: the chosen connections (``?<connector key>=<connection name>``) and
templates travel in the query string and hidden fields; the answers live in the created flows' documents; test runs
and schedules are the flows' own (the same functions as the flow page).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
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
FLOW_STEPS = ("Flows", "Questions", "Test run", "Activate")
"""The steps after the connection steps."""
_SWAP = {"HX-Retarget": "#wizard", "HX-Reswap": "outerHTML", "HX-Reselect": "#wizard"}


@dataclass(frozen=True)
class AppStep:
    """A connection step: the application's connector and whether every template needs it."""

    connector: Any
    required: bool

    @property
    def app(self) -> str:
        return str(self.connector.app)

    @property
    def key(self) -> str:
        """The name of its connection in the wizard's addresses and forms."""
        return str(self.connector.key)


def _app_steps() -> list[AppStep]:
    """One step per application the templates use, in the registry's order."""
    from nodes.connectors.registry import connectors

    needs = [set(template["needs"]) for template in _templates()]
    used = set().union(*needs)
    return [AppStep(c, all(app in n for n in needs)) for app, c in connectors().items() if app in used]


def _steps(apps: list[AppStep], conns: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The steps' labels; ``skipped``: an application step left without a connection (known from ``conns``)."""
    skipped = [conns is not None and not step.required and not conns.get(step.app) for step in apps]
    labels = [step.connector.label for step in apps] + list(FLOW_STEPS)
    return [{"label": label, "skipped": i < len(skipped) and skipped[i]} for i, label in enumerate(labels)]


def _chosen_connections(apps: list[AppStep], source: Any) -> dict[str, str]:
    """Application → the connection chosen for it ("" when not yet, or skipped), from a query string or a form."""
    return {step.app: str(source.get(step.key) or "").strip() for step in apps}


def _params(apps: list[AppStep], conns: dict[str, str]) -> dict[str, str]:
    """The chosen connections as the wizard's address parameters (and hidden fields)."""
    return {step.key: conns.get(step.app, "") for step in apps}


def _step_url(apps: list[AppStep], index: int, conns: dict[str, str], **more: Any) -> str:
    """The address of connection step ``index`` (the flows step after the last one)."""
    paths = ["/wizard", *(f"/wizard/{step.app}" for step in apps[1:]), "/wizard/flows"]
    return _url(paths[min(index, len(apps))], **_params(apps, conns), **more)


def _missing_step(apps: list[AppStep], conns: dict[str, str], before: int) -> int | None:
    """The first step before ``before`` whose application every flow needs and that has no connection yet."""
    return next((i for i, step in enumerate(apps[:before]) if step.required and not conns.get(step.app)), None)


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
                "needs": sorted(set(connection_slots(document).values())),
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
    index: int,
    conns: dict[str, str],
    *,
    values: dict[str, Any] | None = None,
    problems: list[str] | None = None,
    result: dict[str, Any] | None = None,
    existing: str = "",
    conn_id: str = "",
    name: str = "",
) -> Response[str]:
    """Connection step ``index``: pick a connection of the application or make one, test it, go on (or skip)."""
    apps = _app_steps()
    step = apps[index]
    app_name = step.app
    app = step.connector
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
        stage="connection",
        step=index + 1,
        steps=_steps(apps, conns),
        hidden={k: v for k, v in _params(apps, conns).items() if k != step.key},
        app=app,
        optional=not step.required,
        needed_by=[t["title"] for t in _templates() if app_name in t["needs"]],
        flow_count=len(_templates()),
        back_url=_step_url(apps, index - 1, conns) if index else None,
        skip_url=_step_url(apps, index + 1, {**conns, app_name: ""}) if not step.required else None,
        choices=choices,
        existing=existing,
        values=values or {},
        secrets_set={f.name: True for f in app.fields if f.secret} if conn_id else {},
        problems=problems or [],
        result=result,
        conn_id=conn_id,
        name=name,
        headers=_SWAP if request.headers.get("hx-request") else None,
    )


async def _connection_step(request: Request[Any, Any, Any], db: Database, index: int) -> Response[str]:
    apps = _app_steps()
    conns = _chosen_connections(apps, request.query_params)
    missing = _missing_step(apps, conns, index)
    if missing is not None:
        return redirect(request, _step_url(apps, missing, conns))
    return await _connection_page(request, db, index, conns, existing=conns[apps[index].app])


@get("/wizard")
async def wizard_start(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Step 1: the first application's connection."""
    return await _connection_step(request, db, 0)


@get("/wizard/{app:str}")
async def wizard_app(request: Request[Any, Any, Any], db: Database, app: str) -> Response[str]:
    """The connection step of one application (``/wizard/asperion``)."""
    index = next((i for i, step in enumerate(_app_steps()) if step.app == app), None)
    if index is None:
        return redirect(request, "/wizard")
    return await _connection_step(request, db, index)


@post("/wizard/connection")
async def wizard_connection(
    request: Request[Any, Any, Any], db: Database, go: FromQuery[str] = "next"
) -> Response[str]:
    """Save (or pick) the connection, test it and, on ``go=next`` when it works, go to the next step."""
    from web.ui.connections import form_fields

    form = await request.form()
    apps = _app_steps()
    app_name = str(form.get("app") or "")
    index = next((i for i, step in enumerate(apps) if step.app == app_name), 0)
    app_name, app = apps[index].app, apps[index].connector
    conns = _chosen_connections(apps, form)
    existing = str(form.get("existing") or "").strip()
    conn_id = str(form.get("id") or "").strip()
    name = str(form.get("name") or "").strip()
    values = {f.name: str(form.get(f.name) or "").strip() for f in app.fields if not f.secret}
    if existing:
        try:
            row = await store.get_connection(db, existing)
        except store.NotFound:
            return await _connection_page(
                request, db, index, conns, problems=["This connection does not exist."], values=values, name=name
            )
    else:
        try:
            row = await store.save_connection(
                db, name=name, app=app_name, fields=form_fields(app, form), connection_id=conn_id or None
            )
        except (store.InvalidConnection, store.NotFound) as exc:
            problems = list(getattr(exc, "problems", None) or [str(exc)])
            return await _connection_page(
                request, db, index, conns, values=values, problems=problems, conn_id=conn_id, name=name
            )
    try:
        result = await store.test_connection(db, row.id)
    except Exception as exc:  # the application's answer, whatever it is, is shown to the user
        result = {"ok": False, "message": str(exc) or type(exc).__name__, "can_write": None}
    conns = {**conns, app_name: row.name}
    if go == "next" and result.get("ok"):
        return redirect(request, _step_url(apps, index + 1, conns))
    if existing:
        return await _connection_page(request, db, index, conns, result=result, existing=row.name)
    return await _connection_page(
        request, db, index, conns, result=result, values=values, conn_id=row.id, name=row.name
    )


@get("/wizard/flows")
async def wizard_flows(
    request: Request[Any, Any, Any],
    db: Database,
    t: FromQuery[list[str] | None] = None,
    batch: FromQuery[str] = "",
) -> Response[str]:
    """The flows step: which flows (those needing an application not connected are shown, not offered)."""
    apps = _app_steps()
    conns = _chosen_connections(apps, request.query_params)
    missing = _missing_step(apps, conns, len(apps))
    if missing is not None:
        return redirect(request, _step_url(apps, missing, conns))
    return _flows_page(request, conns, batch, list(t or []))


def _offered(apps: list[AppStep], conns: dict[str, str]) -> list[dict[str, Any]]:
    """Every template, with ``missing``: the labels of the applications it needs that have no connection."""
    labels = {step.app: str(step.connector.label) for step in apps}
    return [{**t, "missing": [labels.get(app, app) for app in t["needs"] if not conns.get(app)]} for t in _templates()]


def _available(conns: dict[str, str]) -> set[str]:
    """The templates whose applications all have a connection."""
    return {t["name"] for t in _offered(_app_steps(), conns) if not t["missing"]}


def _flows_page(
    request: Request[Any, Any, Any], conns: dict[str, str], batch: str, chosen: list[str], error: str | None = None
) -> Response[str]:
    """The flows step with the templates to choose from, the ones chosen and what is wrong with the choice."""
    apps = _app_steps()
    params = _params(apps, conns)
    return render(
        request,
        "wizard.html",
        stage="flows",
        step=len(apps) + 1,
        steps=_steps(apps, conns),
        hidden={**params, "batch": batch},
        templates=_offered(apps, conns),
        chosen=chosen,
        error=error,
        back_url=_step_url(apps, len(apps) - 1, conns),
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


def _document(base: dict[str, Any], conns: dict[str, str]) -> dict[str, Any]:
    """``base`` (the template's document or the flow made from it) using the chosen connections."""
    mapping = {slot: str(conns.get(app) or slot) for slot, app in connection_slots(base).items()}
    return use_connections(base, mapping)


async def _questions_page(
    request: Request[Any, Any, Any],
    db: Database,
    conns: dict[str, str],
    batch: str,
    chosen: list[str],
    *,
    form: Any = None,
    problems: dict[str, str] | None = None,
) -> Response[str]:
    apps = _app_steps()
    connections = await store.connection_apps(db)
    made = await _batch_flows(db, batch, chosen)
    items = []
    for template in _templates(chosen):
        base = made[template["name"]][1] if template["name"] in made else template["document"]
        document = _document(base, conns)
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
        stage="questions",
        step=len(apps) + 2,
        steps=_steps(apps, conns),
        hidden={**_params(apps, conns), "batch": batch},
        items=items,
        chosen=chosen,
        problems=problems or {},
        back_url=_url("/wizard/flows", **_params(apps, conns), t=chosen, batch=batch),
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
    t: FromQuery[list[str] | None] = None,
    batch: FromQuery[str] = "",
) -> Response[str]:
    """The questions step: the few questions of each chosen template (prefilled with the defaults, or the answers
    given)."""
    conns = _chosen_connections(_app_steps(), request.query_params)
    known = _available(conns)
    chosen = [name for name in (t or []) if name in known]
    error = _choice_problem(chosen)
    if error:
        return _flows_page(request, conns, batch, chosen, error)
    return await _questions_page(request, db, conns, batch or uuid.uuid4().hex, chosen)


@post("/wizard/create")
async def wizard_create(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Create one flow per chosen template with the answers (or update the ones made before), and test each."""
    from engine import automation

    form = await request.form()
    apps = _app_steps()
    conns = _chosen_connections(apps, form)
    batch = str(form.get("batch") or "") or uuid.uuid4().hex
    known = _available(conns)
    chosen = [str(name) for name in form.getall("t", []) if str(name) in known]
    if _choice_problem(chosen):
        return redirect(request, _step_url(apps, len(apps), conns))
    connections = await store.connection_apps(db)
    made = await _batch_flows(db, batch, chosen)
    documents: list[tuple[str, dict[str, Any]]] = []
    problems: dict[str, str] = {}
    lang = language_of(request)
    for template in _templates(chosen):
        name = template["name"]
        base = made[name][1] if name in made else {**template["document"], "name": translate(lang, template["title"])}
        document = _document(base, conns)
        asked = wizard_questions(name, document, connections)
        document, found = apply_answers(document, [(q, _read_answer(form, q)) for q in asked])
        problems.update({f"{name}:{key}": message for key, message in found.items()})
        documents.append((name, document))
    if problems:
        return await _questions_page(request, db, conns, batch, chosen, form=form, problems=problems)
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
            await automation.apply_automation(db, flow.id, {"settings": {"wizard": batch}})
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
    return redirect(request, _url("/wizard/test", flow=flow_ids, **_params(apps, conns), t=chosen, batch=batch))


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
    conns = _chosen_connections(_app_steps(), answers)
    made = await _batch_flows(db, str(answers.get("batch") or ""), [template])
    document = _document(made[template][1] if template in made else get_template(template), conns)
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
    t: FromQuery[list[str] | None] = None,
    batch: FromQuery[str] = "",
) -> Response[str]:
    """The test step: each new flow's test run on its first records (polled until finished), and a button to run it
    again."""
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
    apps = _app_steps()
    conns = _chosen_connections(apps, request.query_params)
    params = _params(apps, conns)
    back = _url("/wizard/questions", **params, t=list(t or []), batch=batch) if batch and t else None
    return render(
        request,
        "wizard.html",
        stage="test",
        step=len(apps) + 3,
        steps=_steps(apps, conns),
        items=items,
        limit=TEST_LIMIT,
        back_url=back,
        next_url=_url("/wizard/activate", flow=[i["flow"].id for i in items], **params, t=list(t or []), batch=batch),
    )


@get("/wizard/activate")
async def wizard_activate_page(
    request: Request[Any, Any, Any],
    db: Database,
    flow: FromQuery[list[str] | None] = None,
    done: FromQuery[bool] = False,
) -> Response[str]:
    """The last step: how often each flow runs, and switch them on."""
    flows = await _flows(db, list(flow or []))
    if not flows:
        return redirect(request, "/wizard")
    return render(
        request,
        "wizard.html",
        stage="activate",
        step=len(_app_steps()) + 4,
        steps=_steps(_app_steps()),
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
            stage="activate",
            step=len(_app_steps()) + 4,
            steps=_steps(_app_steps()),
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
    wizard_connection,
    wizard_flows,
    wizard_questions_page,
    wizard_create,
    wizard_count,
    wizard_test,
    wizard_activate_page,
    wizard_activate,
    wizard_app,  # last: a fixed step's address wins over an application's name
]
