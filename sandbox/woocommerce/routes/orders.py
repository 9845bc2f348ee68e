"""``/orders`` (+ batch), ``/orders/<id>/refunds``, ``/orders/<id>/notes`` and ``/refunds``."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, dumps, json_response, loads
from sandbox.woocommerce.errors import WooError, invalid_id
from sandbox.woocommerce.listing import (
    cache_key,
    check_enum,
    date_filters,
    id_filters,
    int_arg,
    list_response,
    remember,
    sort_ids,
)
from sandbox.woocommerce.objects import links, now_pair, parse_date
from sandbox.woocommerce.orders import (
    ORDER_STATUSES,
    apply_order_update,
    build_order,
    order_or_404,
)
from sandbox.woocommerce.refunds import create_refund
from sandbox.woocommerce.routes.common import as_bool, batch, body_dict, created, fill, force, rest_base
from sandbox.woocommerce.stock import adjust_stock
from sandbox.woocommerce.webhooks import emit

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("STATUS_NAMES", "add_note", "register", "render_order")

STATUS_NAMES = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "checkout-draft": "Draft",
    "trash": "Trash",
}

_ORDERBY = {  # HPOS orders sort on their GMT columns
    "date": "created_gmt",
    "id": None,
    "include": "created_gmt",
    "title": "created_gmt",
    "slug": "created_gmt",
    "modified": "modified_gmt",
}


def render_order(sim: WooSim, req: Request, oid: int) -> bytes | None:
    """An order as a GET returns it (bytes)."""
    raw = sim.orders.raw(oid)
    return None if raw is None else fill(req, raw)


def _order_dict(sim: WooSim, req: Request, oid: int) -> dict[str, Any]:
    body = render_order(sim, req, oid)
    assert body is not None
    result: dict[str, Any] = loads(body)
    return result


def _save(sim: WooSim, req: Request, order: dict[str, Any], event: str) -> bytes:
    sim.orders.put(order)
    body = render_order(sim, req, order["id"])
    assert body is not None
    emit(sim, req, "order", event, order["id"], body)
    return body


def list_orders(sim: WooSim, req: Request) -> Response:
    after = _keyset_after(req)
    query = req.without("modified_after") if after else req
    key = cache_key(query, "orders", sim.orders.version)
    cached = sim.list_cache.get(key)
    if cached is None:
        cached = _order_ids(sim, query)
        remember(sim.list_cache, key, cached)
    if after:
        # A keyset read (ascending by modified, "modified after" the last page's stamp) is a tail of the same list
        # without that filter, as a database index would give it: found by bisection instead of a new scan and
        # sort of every order for each page.
        index = sim.orders.index
        cached = cached[bisect.bisect_right(cached, after, key=lambda i: index[i]["modified_gmt"]) :]
    return list_response(req, cached, sim.orders.raw)


def _keyset_after(req: Request) -> str | None:
    """The GMT stamp of ``modified_after`` when the list is sorted ascending on the same GMT column, else None."""
    gmt = (req.arg("dates_are_gmt") or "").lower() in ("1", "true", "yes")
    raw = req.arg("modified_after")
    if not (gmt and raw and req.arg("orderby") == "modified" and (req.arg("order") or "").lower() == "asc"):
        return None
    return parse_date(raw, True)


def _order_ids(sim: WooSim, req: Request) -> list[int]:
    statuses = check_enum(req, "status", ("any", "trash", *ORDER_STATUSES)) or ["any"]
    index = sim.orders.index
    ids = id_filters(req, index)
    if "any" in statuses:
        ids = [i for i in ids if index[i]["status"] != "trash"]
    else:
        wanted = set(statuses)
        ids = [i for i in ids if index[i]["status"] in wanted]
    customer = int_arg(req, "customer")
    if customer is not None:
        ids = [i for i in ids if index[i]["customer_id"] == customer]
    product = int_arg(req, "product")
    if product is not None:
        ids = [i for i in ids if product in index[i]["products"]]
    parents = [int(p) for p in req.arg_list("parent") if p.isdigit()]
    if parents:
        ids = [i for i in ids if index[i]["parent_id"] in parents]
    parent_ex = {int(p) for p in req.arg_list("parent_exclude") if p.isdigit()}
    if parent_ex:
        ids = [i for i in ids if index[i]["parent_id"] not in parent_ex]
    ids = date_filters(req, ids, index)
    search = (req.arg("search") or "").strip().lower()
    if search:
        needle = dumps(search)[1:-1]
        ids = [i for i in ids if needle in (sim.orders.raw(i) or b"").lower() or search == str(i)]
    return sort_ids(req, ids, index, _ORDERBY)


def add_note(sim: WooSim, order_id: int, text: str, *, customer: bool = False, by_user: bool = False) -> dict[str, Any]:
    """Add an order note (system notes are by "WooCommerce", not customer-facing)."""
    local, gmt = now_pair()
    note = {
        "id": sim.next_comment_id,
        "author": "admin" if by_user else "WooCommerce",
        "date_created": local,
        "date_created_gmt": gmt,
        "note": text,
        "customer_note": customer,
        "added_by_user": by_user,
    }
    sim.next_comment_id += 1
    sim.notes.setdefault(order_id, []).append(note)
    return note


def _status_note(sim: WooSim, order: dict[str, Any], old: str) -> None:
    if order["status"] != old:
        add_note(
            sim,
            order["id"],
            f"Order status changed from {STATUS_NAMES.get(old, old)} to "
            f"{STATUS_NAMES.get(order['status'], order['status'])}.",
        )


def create_order(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("id"):
        raise WooError("woocommerce_rest_shop_order_exists", "Cannot create existing shop_order.", 400)
    order = build_order(sim, data)
    _status_note(sim, order, "pending")
    adjust_stock(sim, req, order)
    created_order: dict[str, Any] = loads(_save(sim, req, order, "created"))
    return created_order


def update_order(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    oid = int(data.get("id") or 0)
    order = order_or_404(sim, oid, 400)
    old = order["status"]
    apply_order_update(sim, order, data)
    _status_note(sim, order, old)
    adjust_stock(sim, req, order)
    updated_order: dict[str, Any] = loads(_save(sim, req, order, "updated"))
    return updated_order


def delete_order(sim: WooSim, req: Request, oid: int, hard: bool) -> dict[str, Any]:
    order = order_or_404(sim, oid)
    result = _order_dict(sim, req, oid)
    if hard:
        sim.orders.delete(oid)
        sim.notes.pop(oid, None)
        emit(sim, req, "order", "deleted", oid, None)
        return result
    if order["status"] == "trash":
        raise WooError("woocommerce_rest_already_trashed", "The order has already been deleted.", 410)
    order["status"] = "trash"
    order["date_modified"], order["date_modified_gmt"] = now_pair()
    sim.orders.put(order)
    emit(sim, req, "order", "deleted", oid, None)
    return _order_dict(sim, req, oid)


def _refund_out(req: Request, refund: dict[str, Any]) -> dict[str, Any]:
    oid = refund["_order_id"]
    base = rest_base(req)
    out = {k: v for k, v in refund.items() if k != "_order_id"}
    out["_links"] = links(base, f"orders/{oid}/refunds", refund["id"], up=f"{base}/orders/{oid}")
    return out


def _note_out(req: Request, oid: int, note: dict[str, Any]) -> dict[str, Any]:
    base = rest_base(req)
    return {**note, "_links": links(base, f"orders/{oid}/notes", note["id"], up=f"{base}/orders/{oid}")}


def register(sim: WooSim) -> None:
    """Register the order routes."""

    @sim.route("GET", "/orders", "list")
    def _list(sim: WooSim, req: Request) -> Response:
        return list_orders(sim, req)

    @sim.route("POST", "/orders", "create")
    def _create(sim: WooSim, req: Request) -> Response:
        obj = create_order(sim, req, body_dict(req))
        return created(obj, f"{rest_base(req)}/orders/{obj['id']}")

    @sim.route("GET", "/orders/{id:int}", "view")
    def _get(sim: WooSim, req: Request, id: int) -> Response:
        body = render_order(sim, req, id)
        if body is None:
            raise invalid_id("shop_order")
        return json_response(body)

    @sim.route("PUT", "/orders/{id:int}", "edit")
    def _put(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(update_order(sim, req, {**body_dict(req), "id": id}))

    sim.route("PATCH", "/orders/{id:int}", "edit")(_put)
    sim.route("POST", "/orders/{id:int}", "edit")(_put)

    @sim.route("DELETE", "/orders/{id:int}", "delete")
    def _delete(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(delete_order(sim, req, id, force(req)))

    @sim.route("POST", "/orders/batch", "batch")
    def _batch(sim: WooSim, req: Request) -> Response:
        def delete(d: dict[str, Any]) -> dict[str, Any]:
            oid = int(d.get("id") or 0)
            if oid not in sim.orders:
                raise invalid_id("shop_order", 400)
            return delete_order(sim, req, oid, True)

        return batch(sim, req, lambda d: create_order(sim, req, d), lambda d: update_order(sim, req, d), delete)

    sim.route("PUT", "/orders/batch", "batch")(_batch)

    # -- refunds ------------------------------------------------------------------------------------------------
    @sim.route("GET", "/orders/{order_id:int}/refunds", "list")
    def _refunds(sim: WooSim, req: Request, order_id: int) -> Response:
        order = order_or_404(sim, order_id)
        # The order lists its refunds (as the API shows them): no walk over every refund of the store.
        listed = {int(r["id"]) for r in order.get("refunds") or [] if str(r.get("id", "")).isdigit()}
        ids = sorted(listed & sim.refunds.keys(), reverse=True)
        ids = id_filters(req, ids)
        return list_response(req, ids, lambda i: dumps(_refund_out(req, sim.refunds[i])))

    @sim.route("GET", "/refunds", "list")
    def _all_refunds(sim: WooSim, req: Request) -> Response:
        ids = id_filters(req, sorted(sim.refunds, reverse=True))
        return list_response(req, ids, lambda i: dumps(_refund_out(req, sim.refunds[i])))

    @sim.route("POST", "/orders/{order_id:int}/refunds", "create")
    def _create_refund(sim: WooSim, req: Request, order_id: int) -> Response:
        order = sim.orders.get(order_id)
        if order is None or order["status"] == "trash":
            raise WooError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
        old = order["status"]
        refund = create_refund(sim, order, body_dict(req))
        reason = f" – {refund['reason']}" if refund["reason"] else ""
        add_note(sim, order_id, f"Refunded €{refund['amount']}{reason}")
        _status_note(sim, order, old)
        _save(sim, req, order, "updated")
        out = _refund_out(req, refund)
        return created(out, out["_links"]["self"][0]["href"])

    @sim.route("GET", "/orders/{order_id:int}/refunds/{id:int}", "view")
    def _get_refund(sim: WooSim, req: Request, order_id: int, id: int) -> Response:
        refund = sim.refunds.get(id)
        if refund is None or refund["_order_id"] != order_id:
            raise WooError("woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.", 404)
        return json_response(_refund_out(req, refund))

    @sim.route("DELETE", "/orders/{order_id:int}/refunds/{id:int}", "delete")
    def _delete_refund(sim: WooSim, req: Request, order_id: int, id: int) -> Response:
        refund = sim.refunds.get(id)
        if refund is None or refund["_order_id"] != order_id:
            raise WooError("woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.", 404)
        if not force(req):
            raise WooError("woocommerce_rest_trash_not_supported", "Refunds do not support trashing.", 501)
        out = _refund_out(req, refund)
        del sim.refunds[id]
        order = sim.orders.get(order_id)
        if order is not None:
            order["refunds"] = [r for r in order.get("refunds", []) if r["id"] != id]
            _save(sim, req, order, "updated")
        return json_response(out)

    # -- notes --------------------------------------------------------------------------------------------------
    @sim.route("GET", "/orders/{order_id:int}/notes", "list")
    def _notes(sim: WooSim, req: Request, order_id: int) -> Response:
        order_or_404(sim, order_id)
        kind = req.arg("type") or "any"
        notes = [
            n
            for n in reversed(sim.notes.get(order_id, []))
            if kind == "any" or (kind == "customer") == n["customer_note"]
        ]
        return json_response([_note_out(req, order_id, n) for n in notes])

    @sim.route("POST", "/orders/{order_id:int}/notes", "create")
    def _create_note(sim: WooSim, req: Request, order_id: int) -> Response:
        order_or_404(sim, order_id)
        data = body_dict(req)
        if not data.get("note"):
            raise WooError("rest_missing_callback_param", "Missing parameter(s): note", 400, params=["note"])
        note = add_note(
            sim,
            order_id,
            str(data["note"]),
            customer=as_bool(data.get("customer_note", False)),
            by_user=as_bool(data.get("added_by_user", False)),
        )
        out = _note_out(req, order_id, note)
        return created(out, out["_links"]["self"][0]["href"])

    @sim.route("GET", "/orders/{order_id:int}/notes/{id:int}", "view")
    def _get_note(sim: WooSim, req: Request, order_id: int, id: int) -> Response:
        note = next((n for n in sim.notes.get(order_id, []) if n["id"] == id), None)
        if note is None:
            raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        return json_response(_note_out(req, order_id, note))

    @sim.route("DELETE", "/orders/{order_id:int}/notes/{id:int}", "delete")
    def _delete_note(sim: WooSim, req: Request, order_id: int, id: int) -> Response:
        note = next((n for n in sim.notes.get(order_id, []) if n["id"] == id), None)
        if note is None:
            raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        if not force(req):
            raise WooError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
        sim.notes[order_id].remove(note)
        return json_response(_note_out(req, order_id, note))
