"""The flow editor: canvas page, node forms, live options, sample fields, save/versions/restore, settings, runs."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery

from engine import store
from engine.models import Flow
from nodes.base import Node, UpgradeFailed
from nodes.registry import all_node_types, get_node_type
from nodes.texts import shown
from web.i18n import field_name, translate, translate_message
from web.ui.forms import NO_VALUE_OPS, OPERATOR_TAKES, OPERATORS, build_widgets, field_problems
from web.ui.render import current_user, html, language_of, redirect, render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("EDITOR_ROUTES", "palette", "sample_fields")

KIND_ORDER = [
    ("source", "Sources"),
    ("filter", "Filters"),
    ("map", "Maps"),
    ("lookup", "Lookups"),
    ("target", "Targets"),
]
KIND_LABELS = {"source": "Source", "filter": "Filter", "map": "Map", "lookup": "Lookup", "target": "Target"}
# the few words the canvas builds its node summaries and wire names from
CANVAS_WORDS = ("or", "and", "status is", "fields", "via", "Wire from", "to", "Output")
_SAMPLES: dict[tuple[str, str], tuple[float, list[str]]] = {}
SAMPLE_TTL_S = 120.0


@lru_cache(maxsize=1)
def _palette() -> tuple[dict[str, Any], ...]:
    described = [cls.describe() for cls in all_node_types().values()]
    return tuple(described)


def palette() -> list[dict[str, Any]]:
    """Node types grouped by kind, in palette order (their descriptions are computed once)."""
    described = _palette()
    groups = []
    for kind, label in KIND_ORDER:
        items = sorted((d for d in described if d["kind"] == kind), key=lambda d: d["title"])
        groups.append({"kind": kind, "label": label, "items": items})
    return groups


async def _flow(db: Database, flow_id: str) -> Flow:
    try:
        return await store.get_flow(db, flow_id)
    except store.NotFound as exc:
        raise NotFoundException("This flow does not exist.") from exc


def _shown(request: Request[Any, Any, Any], problems: list[Any]) -> list[dict[str, Any]]:
    """Problems as the canvas shows them: each message in the page's language."""
    lang = language_of(request)
    return [{**p.as_dict(), "message": translate_message(lang, p.message)} for p in problems]


def _email(request: Request[Any, Any, Any]) -> str | None:
    return getattr(current_user(request), "email", None)


@post("/flows/new")
async def new_flow(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    document = {"format": "koppel.flow/1", "name": "New flow", "description": "", "nodes": [], "edges": []}
    flow = await store.create_flow(db, document, note="created", created_by=_email(request))
    return redirect(request, f"/flows/{flow.id}")


@get("/flows/{flow_id:str}")
async def editor_page(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    flow = await _flow(db, flow_id)
    version = await store.get_version(db, flow_id)
    connections = {row.name: row.app for row in await store.list_connections(db)}
    problems = _shown(request, await store.validate_flow_document(db, version.document))
    versions = (await store.list_versions(db, flow_id))[:30]
    groups = palette()
    lang = language_of(request)
    types = {
        d["type"]: {
            **d,
            "title": translate(lang, d["title"]),
            "kind_label": translate(lang, KIND_LABELS.get(d["kind"], d["kind"])),
            "outputs": [{**o, "title": translate(lang, o["title"]) if o["title"] else ""} for o in d["outputs"]],
        }
        for group in groups
        for d in group["items"]
    }
    if not version.document.get("nodes"):
        problems = []  # an empty flow gets a hint on the canvas, not a list of what it lacks
    return render(
        request,
        "editor.html",
        flow=flow,
        version=version,
        document=version.document,
        groups=groups,
        types=types,
        connections=connections,
        problems=problems,
        versions=versions,
        canvas_words={word: translate(lang, word) for word in CANVAS_WORDS},
        operator_words={op: translate(lang, text) for op, text in OPERATORS},
    )


@post("/ui/node-form")
async def node_form(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """The config form of one node (posted: its type, id, current config and problems)."""
    form = await request.form()
    node_type = str(form.get("type", ""))
    cls = get_node_type(node_type)
    if cls is None:
        return render(request, "fragments/alert.html", kind="error", message=f"Unknown node type {shown(node_type)}.")
    try:
        config = json.loads(str(form.get("config") or "{}"))
        problems = json.loads(str(form.get("problems") or "[]"))
    except ValueError:
        config, problems = {}, []
    connections = {row.name: row.app for row in await store.list_connections(db)}
    described = cls.describe()
    widgets = build_widgets(
        described["config_schema"],
        config if isinstance(config, dict) else {},
        node_app=cls.app,
        connections=connections,
        problems=problems if isinstance(problems, list) else [],
    )
    node_errors = field_problems(problems if isinstance(problems, list) else []).get("_node", [])
    version = str(form.get("version") or "1")
    return render(
        request,
        "fragments/node_form.html",
        node_id=str(form.get("node_id", "")),
        flow_id=str(form.get("flow_id", "")),
        label=str(form.get("label", "")),
        merge=form.get("merge") == "true",
        incoming=int(str(form.get("incoming") or "0")) if str(form.get("incoming") or "0").isdigit() else 0,
        is_source=cls.kind == "source",
        described=described,
        widgets=widgets,
        node_errors=node_errors,
        operators=OPERATORS,
        operator_takes=OPERATOR_TAKES,
        no_value_ops=NO_VALUE_OPS,
        upgrade=_upgrade(cls, config, int(version) if version.isdigit() else 1),
    )


def _upgrade(cls: type[Node], config: Any, version: int) -> dict[str, Any] | None:
    """What the form offers a step saved with an older version of its type: the upgraded config (or why not)."""
    if version >= cls.version:
        return None
    try:
        upgraded = cls.upgrade(config if isinstance(config, dict) else {}, version)
    except UpgradeFailed as exc:
        return {"error": str(exc)}
    return {"version": cls.version, "config": upgraded}


@get("/ui/options")
async def options(
    request: Request[Any, Any, Any],
    db: Database,
    connection: FromQuery[str] = "",
    kind: FromQuery[str] = "",
    selected: FromQuery[str] = "",
    multiple: FromQuery[bool] = False,
) -> Response[str]:
    """``<option>`` elements fetched live from the connection (the current value stays selected)."""
    from web.options import load_options

    chosen = set(json.loads(selected)) if multiple and selected.startswith("[") else {selected}
    error = None
    items: list[dict[str, Any]] = []
    if not connection:
        error = "no connection to read the choices from"
    else:
        try:
            items = await load_options(db, connection, kind)
        except Exception as exc:
            error = str(exc) or type(exc).__name__
    return render(request, "fragments/options.html", items=items, chosen=chosen, error=error, multiple=multiple)


async def sample_fields(db: Database, flow_id: str, node_id: str | None = None, limit: int = 3) -> list[str]:
    """Paths of a few sample records from the flow's source (read, never written; cached briefly)."""
    from engine.sampling import sample_records
    from nodes.base import SourceNode

    key = (flow_id, node_id or "")
    cached = _SAMPLES.get(key)
    if cached and time.monotonic() - cached[0] < SAMPLE_TTL_S:
        return cached[1]
    version = await store.get_version(db, flow_id)
    document = version.document
    nodes = {n.get("id"): n for n in document.get("nodes", [])}
    parents: dict[str, list[str]] = {}
    for edge in document.get("edges", []):
        parents.setdefault(str(edge.get("to")), []).append(str(edge.get("from")))
    source = None
    todo, seen = [node_id] if node_id else [], set()
    while todo:
        current = todo.pop()
        if current in seen or current not in nodes:
            continue
        seen.add(current)
        cls = get_node_type(str(nodes[current].get("type")))
        if cls is not None and issubclass(cls, SourceNode):
            source = nodes[current]
            break
        todo.extend(parents.get(current, []))
    if source is None:
        source = next(
            (n for n in nodes.values() if (c := get_node_type(str(n.get("type")))) and issubclass(c, SourceNode)), None
        )
    if source is None:
        return []
    paths: list[str] = []
    for record in await sample_records(db, source, limit):
        for path in _paths(record.data):
            if path not in paths:
                paths.append(path)
    _SAMPLES[key] = (time.monotonic(), paths)
    return paths


def _paths(value: Any, prefix: str = "", depth: int = 0) -> list[str]:
    out: list[str] = []
    if depth > 4:
        return out
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).startswith("_"):
                continue  # API links and internals (_links.self[*].href) are no field a person filters on
            path = f"{prefix}.{key}" if prefix else str(key)
            out.append(path)
            out.extend(_paths(item, path, depth + 1))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        out.extend(_paths(value[0], f"{prefix}[*]", depth + 1))
    return out[:400]


@get("/flows/{flow_id:str}/sample-fields")
async def sample_fields_options(
    request: Request[Any, Any, Any], db: Database, flow_id: str, node: FromQuery[str] = ""
) -> Response[str]:
    """``<option>`` elements for the field picker's datalist."""
    await _flow(db, flow_id)
    error = None
    try:
        paths = await sample_fields(db, flow_id, node or None)
    except Exception as exc:
        paths, error = [], str(exc) or type(exc).__name__
    lang = language_of(request)
    options = sorted(((p, field_name(lang, p)) for p in paths), key=lambda o: o[1])
    return render(request, "fragments/sample_fields.html", options=options, error=error)


@post("/flows/{flow_id:str}/save")
async def save_flow(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """Save the canvas as a new version (with an optional note) and report what is still wrong."""
    await _flow(db, flow_id)
    form = await request.form()
    try:
        document = json.loads(str(form.get("document") or ""))
    except ValueError:
        return render(request, "fragments/alert.html", kind="error", message="The flow could not be read.")
    if not isinstance(document, dict):
        return render(request, "fragments/alert.html", kind="error", message="The flow could not be read.")
    version = await store.save_version(
        db, flow_id, document, note=str(form.get("note", "")).strip(), created_by=_email(request)
    )
    problems = _shown(request, await store.validate_flow_document(db, document))
    versions = (await store.list_versions(db, flow_id))[:30]
    return render(
        request,
        "fragments/save_result.html",
        version=version,
        problems=problems,
        versions=versions,
        flow_id=flow_id,
        headers={"HX-Trigger": json.dumps({"koppel:problems": {"problems": problems}})},
    )


@post("/flows/{flow_id:str}/validate")
async def validate_flow(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    form = await request.form()
    try:
        document = json.loads(str(form.get("document") or "{}"))
    except ValueError:
        document = {}
    problems = _shown(request, await store.validate_flow_document(db, document))
    return render(
        request,
        "fragments/problems.html",
        problems=problems,
        headers={"HX-Trigger": json.dumps({"koppel:problems": {"problems": problems}})},
    )


@post("/flows/{flow_id:str}/versions/{number:int}/restore")
async def restore_version(request: Request[Any, Any, Any], db: Database, flow_id: str, number: int) -> Response[str]:
    try:
        await store.restore_version(db, flow_id, number, created_by=_email(request))
    except store.NotFound as exc:
        raise NotFoundException(str(exc)) from exc
    return redirect(request, f"/flows/{flow_id}?restored={number}")


@post("/flows/{flow_id:str}/settings")
async def save_settings(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """The basic run settings (trigger, parallel runs); issue 6 extends ``flow_settings.html``.

    Checked by the same rules as the automation API (a cron expression must parse, an interval is long enough).
    """
    from engine.automation import apply_automation, validate_automation

    form = await request.form()
    flow = await _flow(db, flow_id)
    # fields the form does not show (a webhook's catch-up) are kept; a broken stored trigger is replaced
    trigger = dict(flow.trigger) if isinstance(flow.trigger, dict) else {}
    trigger["type"] = str(form.get("trigger_type") or trigger.get("type") or "manual")
    every = str(form.get("every_minutes", "")).strip()
    if every.isdigit() and int(every) > 0:
        trigger["every_s"] = int(every) * 60
    cron = str(form.get("cron", "")).strip()
    if cron:
        trigger["cron"] = cron
    change_in: dict[str, Any] = {"trigger": trigger, "active": form.get("active") in ("on", "1", "true")}
    parallel = str(form.get("max_parallel_runs", "")).strip()
    if parallel.isdigit():
        change_in["max_parallel_runs"] = int(parallel)
    change, problems = validate_automation(change_in)
    if problems:
        from web.i18n import translate
        from web.ui.render import language_of

        lang = language_of(request)
        message = "; ".join(f"{p['field']}: {translate(lang, p['message'])}" for p in problems)
        return render(request, "fragments/alert.html", kind="error", message=message)
    await apply_automation(db, flow_id, change)
    return render(request, "fragments/alert.html", kind="success", message="Settings saved.")


@post("/flows/{flow_id:str}/run")
async def run_now(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """Save the canvas when it changed, run it for real and open the run page."""
    await _flow(db, flow_id)
    version = await store.get_version(db, flow_id)
    document = version.document
    form = await request.form()
    try:
        posted = json.loads(str(form.get("document") or "null"))
    except ValueError:
        posted = None
    if isinstance(posted, dict) and posted != document:
        await store.save_version(db, flow_id, posted, note="saved before running", created_by=_email(request))
        document = posted
    problems = _shown(request, await store.validate_flow_document(db, document))
    if problems:
        return render(
            request,
            "fragments/problems.html",
            problems=problems,
            intro="Fix the flow before running it:",
            headers={"HX-Trigger": json.dumps({"koppel:problems": {"problems": problems}})},
        )
    try:
        run = await store.start_flow_run(db, flow_id, trigger="manual", params={}, created_by=_email(request))
    except store.FlowBusy as exc:
        return render(request, "fragments/alert.html", kind="error", message=str(exc))
    return redirect(request, f"/runs/{run.id}")


@get("/flows/{flow_id:str}/export")
async def export_flow(db: Database, flow_id: str) -> Response[str]:
    version = await store.get_version(db, flow_id)
    return html(json.dumps(version.document, indent=2), headers={"Content-Type": "application/json"})


EDITOR_ROUTES = [
    new_flow,
    editor_page,
    node_form,
    options,
    sample_fields_options,
    save_flow,
    validate_flow,
    restore_version,
    save_settings,
    run_now,
    export_flow,
]
