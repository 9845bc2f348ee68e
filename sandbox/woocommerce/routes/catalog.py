"""``/products`` (+ batch) and ``/products/<id>/variations`` (+ batch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, json_response, loads
from sandbox.woocommerce.collection import Collection
from sandbox.woocommerce.errors import WooError, invalid_id, invalid_param
from sandbox.woocommerce.listing import check_enum, date_filters, id_filters, int_arg, list_response, sort_ids
from sandbox.woocommerce.objects import derive_product, new_product, new_variation, now_pair
from sandbox.woocommerce.routes.common import SITE, as_bool, batch, body_dict, created, fill, force
from sandbox.woocommerce.webhooks import emit

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register", "render_product")

_ORDERBY = {
    "date": "created_gmt",
    "id": None,
    "include": "created_gmt",
    "title": "name",
    "slug": "slug",
    "modified": "modified_gmt",
    "price": "price",
    "popularity": "created_gmt",
    "rating": "created_gmt",
    "menu_order": "menu_order",
}
_TYPES = ("simple", "grouped", "external", "variable")
_STATUSES = ("any", "future", "trash", "draft", "pending", "private", "publish")
_STOCK = ("instock", "outofstock", "onbackorder")
_READ_ONLY = {
    "id",
    "date_created",
    "date_created_gmt",
    "date_modified_gmt",
    "permalink",
    "price",
    "price_html",
    "on_sale",
    "purchasable",
    "total_sales",
    "backorders_allowed",
    "backordered",
    "shipping_required",
    "shipping_taxable",
    "average_rating",
    "rating_count",
    "related_ids",
    "variations",
    "has_options",
    "_links",
    "type_",
}


def render_product(req: Request, coll: Collection, pid: int) -> bytes | None:
    """A product or variation as a GET returns it (bytes)."""
    raw = coll.raw(pid)
    return None if raw is None else fill(req, raw)


def _out(req: Request, coll: Collection, pid: int) -> dict[str, Any]:
    body = render_product(req, coll, pid)
    assert body is not None
    result: dict[str, Any] = loads(body)
    return result


def _check_sku(sim: WooSim, sku: str, own_id: int = 0) -> None:
    if not sku:
        return
    for coll in (sim.products, sim.variations):
        for pid, idx in coll.index.items():
            if idx["sku"] == sku and pid != own_id:
                raise WooError(
                    "product_invalid_sku", "Invalid or duplicated SKU.", 400, resource_id=pid, unique_sku=f"{sku}-1"
                )


def _validate_product(data: dict[str, Any]) -> None:
    if "type" in data and data["type"] not in _TYPES:
        raise invalid_param("type", f"type is not one of {', '.join(_TYPES)}.", "rest_not_in_enum")
    if "status" in data and data["status"] not in _STATUSES[1:]:
        raise invalid_param("status", f"status is not one of {', '.join(_STATUSES[1:])}.", "rest_not_in_enum")
    for key in ("regular_price", "sale_price"):
        if key in data and not isinstance(data[key], str):
            raise invalid_param(key, f"{key} is not of type string.", "rest_invalid_type")
    if "stock_quantity" in data and data["stock_quantity"] is not None and not isinstance(data["stock_quantity"], int):
        raise invalid_param("stock_quantity", "stock_quantity is not of type integer,null.", "rest_invalid_type")


def _apply(obj: dict[str, Any], data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key in _READ_ONLY or (key not in obj and key not in ("global_unique_id",)):
            continue
        obj[key] = value
    if "stock_quantity" in data and "manage_stock" not in data and data["stock_quantity"] is not None:
        obj["manage_stock"] = obj.get("manage_stock") or True
    obj["date_modified"], obj["date_modified_gmt"] = now_pair()
    derive_product(obj)


def _products_list(sim: WooSim, req: Request) -> Response:
    index = sim.products.index
    skus = [s for s in (req.arg("sku") or "").split(",") if s.strip()]
    ids: list[int] = list(index)
    rendered_from: dict[int, Collection] = {}
    if skus:
        wanted = {s.strip() for s in skus}
        ids = [i for i in ids if index[i]["sku"] in wanted]
        var_ids = [i for i, x in sim.variations.index.items() if x["sku"] in wanted]
        rendered_from = dict.fromkeys(var_ids, sim.variations)
        ids.extend(var_ids)
    full = {**index, **{i: sim.variations.index[i] for i in rendered_from}}
    ids = id_filters(req, ids)
    statuses = check_enum(req, "status", _STATUSES) or ["any"]
    if "any" in statuses:
        ids = [i for i in ids if full[i]["status"] != "trash"]
    else:
        ids = [i for i in ids if full[i]["status"] in statuses]
    types = check_enum(req, "type", _TYPES)
    if types:
        ids = [i for i in ids if full[i]["type"] in types]
    stock = check_enum(req, "stock_status", _STOCK)
    if stock:
        ids = [i for i in ids if full[i]["stock_status"] in stock]
    gtins = {g.strip() for g in (req.arg("global_unique_id") or "").split(",") if g.strip()}
    if gtins:
        ids = [i for i in ids if full[i]["gtin"] in gtins]
    for flag in ("virtual", "downloadable", "featured", "on_sale"):
        if req.arg(flag) is not None:
            want = as_bool(req.arg(flag))
            ids = [i for i in ids if full[i][flag] == want]
    if req.arg("tax_class") is not None:
        tc = req.arg("tax_class")
        ids = [i for i in ids if (full[i]["tax_class"] or "standard") == (tc or "standard")]
    category = int_arg(req, "category")
    if category is not None:
        ids = [i for i in ids if category in full[i]["categories"]]
    parents = [int(p) for p in req.arg_list("parent") if p.isdigit()]
    if parents:
        ids = [i for i in ids if full[i]["parent_id"] in parents]
    if req.arg("slug"):
        ids = [i for i in ids if full[i]["slug"] == req.arg("slug")]
    search = (req.arg("search") or "").lower()
    if search:
        ids = [i for i in ids if search in full[i]["name"].lower()]
    search_sku = (req.arg("search_sku") or "").lower()
    if search_sku:
        ids = [i for i in ids if search_sku in full[i]["sku"].lower()]
    for bound, op in (("min_price", 1), ("max_price", -1)):
        if req.arg(bound):
            limit = float(req.arg(bound) or 0)
            ids = [i for i in ids if full[i]["price"] != "" and (float(full[i]["price"]) - limit) * op >= 0]
    ids = date_filters(req, ids, full)
    ids = sort_ids(req, ids, full, _ORDERBY)
    return list_response(req, ids, lambda i: rendered_from.get(i, sim.products).raw(i))


def _create_product(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("id"):
        raise WooError("woocommerce_rest_product_exists", "Cannot create existing product.", 400)
    _validate_product(data)
    _check_sku(sim, str(data.get("sku") or ""))
    pid = sim.post_id()
    product = new_product(pid, data, now_pair(), SITE)
    sim.products.put(product)
    body = render_product(req, sim.products, pid)
    emit(sim, req, "product", "created", pid, body)
    return _out(req, sim.products, pid)


def _update_product(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    pid = int(data.get("id") or 0)
    product = sim.products.get(pid)
    if product is None:
        raise invalid_id("product", 400)
    _validate_product(data)
    if "sku" in data:
        _check_sku(sim, str(data["sku"] or ""), pid)
    if "type" in data:
        product["type"] = data["type"]
    _apply(product, {k: v for k, v in data.items() if k != "type"})
    sim.products.put(product)
    emit(sim, req, "product", "updated", pid, render_product(req, sim.products, pid))
    return _out(req, sim.products, pid)


def _delete_product(sim: WooSim, req: Request, pid: int, hard: bool) -> dict[str, Any]:
    product = sim.products.get(pid)
    if product is None:
        raise invalid_id("product")
    result = _out(req, sim.products, pid)
    if hard:
        sim.products.delete(pid)
        for vid in product.get("variations", []):
            sim.variations.delete(vid)
    else:
        if product["status"] == "trash":
            raise WooError("woocommerce_rest_already_trashed", "The product has already been deleted.", 410)
        product["status"] = "trash"
        sim.products.put(product)
        result = _out(req, sim.products, pid)
    emit(sim, req, "product", "deleted", pid, None)
    return result


def _parent(sim: WooSim, product_id: int) -> dict[str, Any]:
    parent = sim.products.get(product_id)
    if parent is None:
        raise WooError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
    return parent


def _variation(sim: WooSim, product_id: int, vid: int, status: int = 404) -> dict[str, Any]:
    variation = sim.variations.get(vid)
    if variation is None or int(variation.get("parent_id") or 0) != product_id:
        raise invalid_id("product_variation", status)
    return variation


def _create_variation(sim: WooSim, req: Request, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
    parent = _parent(sim, product_id)
    _validate_product({k: v for k, v in data.items() if k not in ("type", "status")})
    _check_sku(sim, str(data.get("sku") or ""))
    vid = sim.post_id()
    parent_plain = dict(parent)
    parent_plain["permalink"] = parent.get("permalink", "")
    variation = new_variation(vid, parent_plain, data, now_pair())
    sim.variations.put(variation)
    parent.setdefault("variations", []).append(vid)
    _sync_variable_price(sim, parent)
    sim.products.put(parent)
    emit(sim, req, "product", "created", vid, render_product(req, sim.variations, vid))
    return _out(req, sim.variations, vid)


def _sync_variable_price(sim: WooSim, parent: dict[str, Any]) -> None:
    """``WC_Product_Variable::sync``: the parent's price is the lowest variation price."""
    prices = [sim.variations.index[v]["price"] for v in parent.get("variations", []) if v in sim.variations.index]
    prices = [p for p in prices if p != ""]
    parent["price"] = min(prices, key=float) if prices else ""


def _update_variation(sim: WooSim, req: Request, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
    vid = int(data.get("id") or 0)
    variation = _variation(sim, product_id, vid, 400)
    _validate_product({k: v for k, v in data.items() if k not in ("type", "status")})
    if "sku" in data:
        _check_sku(sim, str(data["sku"] or ""), vid)
    _apply(variation, data)
    if "attributes" in data:
        variation["attributes"] = data["attributes"]
    sim.variations.put(variation)
    parent = sim.products.get(product_id)
    if parent is not None and ("regular_price" in data or "sale_price" in data):
        _sync_variable_price(sim, parent)
        sim.products.put(parent)
    emit(sim, req, "product", "updated", vid, render_product(req, sim.variations, vid))
    return _out(req, sim.variations, vid)


def _delete_variation(sim: WooSim, req: Request, product_id: int, vid: int, hard: bool) -> dict[str, Any]:
    _variation(sim, product_id, vid)
    if not hard:
        raise WooError("woocommerce_rest_trash_not_supported", "Variations do not support trashing.", 501)
    result = _out(req, sim.variations, vid)
    sim.variations.delete(vid)
    parent = sim.products.get(product_id)
    if parent is not None:
        parent["variations"] = [v for v in parent.get("variations", []) if v != vid]
        sim.products.put(parent)
    emit(sim, req, "product", "deleted", vid, None)
    return result


def register(sim: WooSim) -> None:
    """Register the product and variation routes."""

    @sim.route("GET", "/products", "list")
    def _list(sim: WooSim, req: Request) -> Response:
        return _products_list(sim, req)

    @sim.route("POST", "/products", "create")
    def _create(sim: WooSim, req: Request) -> Response:
        obj = _create_product(sim, req, body_dict(req))
        return created(obj, obj["_links"]["self"][0]["href"])

    @sim.route("GET", "/products/{id:int}", "view")
    def _get(sim: WooSim, req: Request, id: int) -> Response:
        body = render_product(req, sim.products, id) or render_product(req, sim.variations, id)
        if body is None:
            raise invalid_id("product")
        return json_response(body)

    @sim.route("PUT", "/products/{id:int}", "edit")
    def _put(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_update_product(sim, req, {**body_dict(req), "id": id}))

    sim.route("PATCH", "/products/{id:int}", "edit")(_put)
    sim.route("POST", "/products/{id:int}", "edit")(_put)

    @sim.route("DELETE", "/products/{id:int}", "delete")
    def _delete(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_delete_product(sim, req, id, force(req)))

    @sim.route("POST", "/products/batch", "batch")
    def _batch(sim: WooSim, req: Request) -> Response:
        def delete(d: dict[str, Any]) -> dict[str, Any]:
            pid = int(d.get("id") or 0)
            if pid not in sim.products:
                raise invalid_id("product", 400)
            return _delete_product(sim, req, pid, True)

        return batch(sim, req, lambda d: _create_product(sim, req, d), lambda d: _update_product(sim, req, d), delete)

    sim.route("PUT", "/products/batch", "batch")(_batch)

    @sim.route("GET", "/products/{product_id:int}/variations", "list")
    def _variations(sim: WooSim, req: Request, product_id: int) -> Response:
        _parent(sim, product_id)
        index = sim.variations.index
        ids = [i for i, x in index.items() if x["parent_id"] == product_id]
        ids = id_filters(req, ids)
        if req.arg("sku"):
            wanted = {s.strip() for s in (req.arg("sku") or "").split(",")}
            ids = [i for i in ids if index[i]["sku"] in wanted]
        stock = check_enum(req, "stock_status", _STOCK)
        if stock:
            ids = [i for i in ids if index[i]["stock_status"] in stock]
        statuses = check_enum(req, "status", _STATUSES)
        if statuses and "any" not in statuses:
            ids = [i for i in ids if index[i]["status"] in statuses]
        ids = date_filters(req, ids, index)
        ids = sort_ids(req, ids, index, _ORDERBY)
        return list_response(req, ids, sim.variations.raw)

    @sim.route("POST", "/products/{product_id:int}/variations", "create")
    def _create_var(sim: WooSim, req: Request, product_id: int) -> Response:
        obj = _create_variation(sim, req, product_id, body_dict(req))
        return created(obj, obj["_links"]["self"][0]["href"])

    @sim.route("GET", "/products/{product_id:int}/variations/{id:int}", "view")
    def _get_var(sim: WooSim, req: Request, product_id: int, id: int) -> Response:
        _variation(sim, product_id, id)
        return json_response(_out(req, sim.variations, id))

    @sim.route("PUT", "/products/{product_id:int}/variations/{id:int}", "edit")
    def _put_var(sim: WooSim, req: Request, product_id: int, id: int) -> Response:
        return json_response(_update_variation(sim, req, product_id, {**body_dict(req), "id": id}))

    sim.route("PATCH", "/products/{product_id:int}/variations/{id:int}", "edit")(_put_var)
    sim.route("POST", "/products/{product_id:int}/variations/{id:int}", "edit")(_put_var)

    @sim.route("DELETE", "/products/{product_id:int}/variations/{id:int}", "delete")
    def _delete_var(sim: WooSim, req: Request, product_id: int, id: int) -> Response:
        return json_response(_delete_variation(sim, req, product_id, id, force(req)))

    @sim.route("POST", "/products/{product_id:int}/variations/batch", "batch")
    def _batch_var(sim: WooSim, req: Request, product_id: int) -> Response:
        _parent(sim, product_id)

        def delete(d: dict[str, Any]) -> dict[str, Any]:
            return _delete_variation(sim, req, product_id, int(d.get("id") or 0), True)

        return batch(
            sim,
            req,
            lambda d: _create_variation(sim, req, product_id, d),
            lambda d: _update_variation(sim, req, product_id, d),
            delete,
        )

    sim.route("PUT", "/products/{product_id:int}/variations/batch", "batch")(_batch_var)
