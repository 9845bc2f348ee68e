"""The ``/v1`` routes of the simulated Asperion API."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sandbox.asperion import resources as res
from sandbox.asperion.articles import create_article, update_article
from sandbox.asperion.debtors import create_debtor, update_debtor
from sandbox.asperion.files import attach_file, render_file
from sandbox.asperion.invoices import create_invoice, update_invoice
from sandbox.asperion.journal import create_journal_entry
from sandbox.asperion.listing import Predicate, Resource, envelope, parse_list_query, render
from sandbox.asperion.problems import ProblemError
from sandbox.asperion.salesorders import create_sales_order, require_in_trade, update_sales_order
from sandbox.asperion.seed import PROFILE_NAME
from sandbox.asperion.state import Record, Tenant
from sandbox.asperion.web import Ctx, json_response, read_json, validate_only

if TYPE_CHECKING:
    from sandbox.asperion.sim import AsperionSim

__all__ = ("api_routes",)

AnyRequest = Request[Any, Any, Any]
Guard = Callable[[Tenant], None]


def _not_found(resource: Resource, item_id: object) -> ProblemError:
    return ProblemError(404, detail=("not_found", {"resource": resource.label, "id": item_id}))


def _find(ctx: Ctx, resource: Resource, raw_id: str) -> Record:
    collection: dict[Any, Record] = getattr(ctx.tenant, resource.collection)
    key: Any = raw_id
    if resource.fields["id"] == "int":
        try:
            key = int(raw_id)
        except ValueError:
            raise _not_found(resource, raw_id) from None
    record = collection.get(key)
    if record is None and isinstance(key, str):
        record = next((item for name, item in collection.items() if str(name).lower() == key.lower()), None)
    if record is None:
        raise _not_found(resource, raw_id)
    return record


def _list(
    ctx: Ctx, resource: Resource, records: Iterable[Record] | None = None, pre: Predicate | None = None
) -> Response[bytes]:
    query = parse_list_query(ctx.params, resource, ctx.tenant)
    if pre is not None:
        query.predicates.insert(0, pre)
    if records is None:
        records = getattr(ctx.tenant, resource.collection).values()
    body = envelope(
        records,
        query,
        resource,
        ctx.tenant,
        base=ctx.base,
        path=ctx.path,
        params=ctx.params,
        query_string=ctx.query_string,
        profile_name=PROFILE_NAME,
    )
    return json_response(body)


def _created(ctx: Ctx, resource: Resource, record: Record) -> Response[bytes]:
    body = render(record, resource, ctx.base)
    if validate_only(ctx):
        return json_response(body)
    return json_response(body, 201, {"Location": body["_meta"]["self"]})


def _active_filter(ctx: Ctx) -> Predicate | None:
    """Articles: only active ones unless ``ActiveState`` (``All``/``Active``/``Inactive`` or a boolean) says so."""
    state = next((value.strip().lower() for key, value in ctx.params if key.lower() == "activestate"), "active")
    if state in ("all", ""):
        return None
    wanted = state not in ("inactive", "false", "0")
    return lambda record: record["active"] is wanted


def _reader_routes(sim: AsperionSim, resource: Resource, guard: Guard | None = None) -> list[HTTPRouteHandler]:
    base_path = f"/v1/{resource.path.lower()}"

    @get(base_path, name=f"asperion-list-{resource.path}")
    async def list_items(request: AnyRequest) -> Response[bytes]:
        ctx = sim.context(request)
        if guard is not None:
            guard(ctx.tenant)
        return _list(ctx, resource, pre=_active_filter(ctx) if resource is res.ARTICLES else None)

    @get(f"{base_path}/{{item_id:str}}", name=f"asperion-get-{resource.path}")
    async def get_item(request: AnyRequest, item_id: FromPath[str]) -> Response[bytes]:
        ctx = sim.context(request)
        if guard is not None:
            guard(ctx.tenant)
        return json_response(render(_find(ctx, resource, item_id), resource, ctx.base))

    return [list_items, get_item]


def _administration_routes(sim: AsperionSim) -> list[HTTPRouteHandler]:
    def records() -> list[Record]:
        return [{"id": tenant.id, "name": tenant.name} for tenant in sim.tenants.values()]

    @get("/v1/administrations", name="asperion-list-administrations")
    async def list_administrations(request: AnyRequest) -> Response[bytes]:
        return _list(sim.context(request), res.ADMINISTRATIONS, records())

    @get("/v1/administrations/{item_id:str}", name="asperion-get-administrations")
    async def get_administration(request: AnyRequest, item_id: FromPath[str]) -> Response[bytes]:
        ctx = sim.context(request)
        found = next((record for record in records() if str(record["id"]) == item_id), None)
        if found is None:
            raise _not_found(res.ADMINISTRATIONS, item_id)
        return json_response(render(found, res.ADMINISTRATIONS, ctx.base))

    return [list_administrations, get_administration]


def _writer_routes(sim: AsperionSim) -> list[HTTPRouteHandler]:
    @post("/v1/debtors", name="asperion-post-debtors")
    async def post_debtor(request: AnyRequest) -> Response[bytes]:
        ctx = sim.context(request)
        body = await read_json(request)
        debtor = create_debtor(ctx.tenant, sim.counters, body, sim.now(), validate_only=validate_only(ctx))
        return _created(ctx, res.DEBTORS, debtor)

    @put("/v1/debtors/{item_id:str}", name="asperion-put-debtors")
    async def put_debtor(request: AnyRequest, item_id: FromPath[str]) -> Response[bytes]:
        ctx = sim.context(request)
        debtor = _find(ctx, res.DEBTORS, item_id)
        body = await read_json(request)
        updated = update_debtor(ctx.tenant, debtor, body, sim.now(), validate_only=validate_only(ctx))
        return json_response(render(updated, res.DEBTORS, ctx.base))

    @post("/v1/salesinvoiceswithlines", name="asperion-post-invoices")
    async def post_invoice(request: AnyRequest) -> Response[bytes]:
        ctx = sim.context(request)
        body = await read_json(request)
        invoice = create_invoice(ctx.tenant, sim.counters, body, validate_only=validate_only(ctx))
        return _created(ctx, res.INVOICES_WITH_LINES, invoice)

    @put("/v1/salesinvoiceswithlines/{item_id:str}", name="asperion-put-invoices")
    async def put_invoice(request: AnyRequest, item_id: FromPath[str]) -> Response[bytes]:
        ctx = sim.context(request)
        invoice = _find(ctx, res.INVOICES_WITH_LINES, item_id)
        body = await read_json(request)
        updated = update_invoice(ctx.tenant, sim.counters, invoice, body, validate_only=validate_only(ctx))
        return json_response(render(updated, res.INVOICES_WITH_LINES, ctx.base))

    @post("/v1/salesinvoiceswithlines/{item_id:str}/file", name="asperion-post-invoice-file")
    async def post_invoice_file(request: AnyRequest, item_id: FromPath[str]) -> Response[bytes]:
        ctx = sim.context(request)
        invoice = _find(ctx, res.INVOICES_WITH_LINES, item_id)
        media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media_type != "multipart/form-data":
            raise ProblemError(415, detail=("file.multipart", {}))
        form = await request.form()
        upload = next(
            (value for key, value in form.multi_items() if key.lower() == "file" and isinstance(value, UploadFile)),
            None,
        )
        content = await upload.read() if upload is not None else b""
        if upload is None or not content:
            raise ProblemError.field(400, "File", "file.required")
        record = attach_file(
            ctx.tenant,
            invoice,
            upload.filename or "file",
            upload.content_type or "application/octet-stream",
            content,
            sim.now(),
            validate_only=validate_only(ctx),
        )
        return json_response(render_file(record, ctx.base), 200 if validate_only(ctx) else 201)

    @get("/v1/files/{item_id:str}", name="asperion-get-file")
    async def get_file(request: AnyRequest, item_id: FromPath[str]) -> Response[bytes]:
        ctx = sim.context(request)
        record = ctx.tenant.files.get(item_id)
        if record is None:
            raise ProblemError(404, detail=("not_found", {"resource": {"en": "File", "nl": "Bestand"}, "id": item_id}))
        return Response(
            content=record["_content"],
            media_type=record["type"],
            headers={"Content-Disposition": f'attachment; filename="{record["name"]}"'},
        )

    @post("/v1/journalentrieswithlines", name="asperion-post-journal-entries")
    async def post_journal_entry(request: AnyRequest) -> Response[bytes]:
        ctx = sim.context(request)
        body = await read_json(request)
        entry = create_journal_entry(ctx.tenant, sim.counters, body, validate_only=validate_only(ctx))
        return _created(ctx, res.JOURNAL_ENTRIES, entry)

    @post("/v1/articles", name="asperion-post-articles")
    async def post_article(request: AnyRequest) -> Response[bytes]:
        ctx = sim.context(request)
        body = await read_json(request)
        article = create_article(ctx.tenant, sim.counters, body, sim.now(), validate_only=validate_only(ctx))
        return _created(ctx, res.ARTICLES, article)

    @put("/v1/articles/{item_id:str}", name="asperion-put-articles")
    async def put_article(request: AnyRequest, item_id: FromPath[str]) -> Response[bytes]:
        ctx = sim.context(request)
        article = _find(ctx, res.ARTICLES, item_id)
        body = await read_json(request)
        updated = update_article(ctx.tenant, article, body, sim.now(), validate_only=validate_only(ctx))
        return json_response(render(updated, res.ARTICLES, ctx.base))

    @post("/v1/salesorderwithlines", name="asperion-post-sales-orders")
    async def post_sales_order(request: AnyRequest) -> Response[bytes]:
        ctx = sim.context(request)
        require_in_trade(ctx.tenant)
        body = await read_json(request)
        order = create_sales_order(ctx.tenant, sim.counters, body, validate_only=validate_only(ctx))
        return _created(ctx, res.SALES_ORDERS, order)

    @put("/v1/salesorderwithlines/{item_id:str}", name="asperion-put-sales-orders")
    async def put_sales_order(request: AnyRequest, item_id: FromPath[str]) -> Response[bytes]:
        ctx = sim.context(request)
        require_in_trade(ctx.tenant)
        order = _find(ctx, res.SALES_ORDERS, item_id)
        body = await read_json(request)
        updated = update_sales_order(ctx.tenant, order, body, validate_only=validate_only(ctx))
        return json_response(render(updated, res.SALES_ORDERS, ctx.base))

    return [
        post_debtor,
        put_debtor,
        post_invoice,
        put_invoice,
        post_invoice_file,
        get_file,
        post_journal_entry,
        post_article,
        put_article,
        post_sales_order,
        put_sales_order,
    ]


def api_routes(sim: AsperionSim) -> list[HTTPRouteHandler]:
    """Every ``/v1`` route of the simulator.

    Args:
        sim: The simulator whose state the routes serve.

    Returns:
        The route handlers.
    """
    readers = [
        res.DEBTORS,
        res.INVOICE_HEADERS,
        res.INVOICES_WITH_LINES,
        res.JOURNAL_ENTRIES,
        res.JOURNALS,
        res.LEDGER_ACCOUNTS,
        res.VAT_CODES,
        res.PAYMENT_CONDITIONS,
        res.COST_CENTERS,
        res.COST_UNITS,
        res.ARTICLES,
        res.SALES_TYPES,
        res.DEBTOR_KINDS,
    ]
    routes = _administration_routes(sim) + _writer_routes(sim)
    for resource in readers:
        routes += _reader_routes(sim, resource)
    routes += _reader_routes(sim, res.SALES_ORDERS, guard=require_in_trade)
    return routes
