"""``/coupons`` (+ batch): coupon definitions that orders apply by code (percent, fixed_cart, fixed_product)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, dumps, json_response
from sandbox.woocommerce.errors import WooError, invalid_id, invalid_param
from sandbox.woocommerce.listing import id_filters, list_response
from sandbox.woocommerce.objects import links, new_coupon, now_pair
from sandbox.woocommerce.routes.common import batch, body_dict, created, force, rest_base
from sandbox.woocommerce.webhooks import emit

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)


def _coupon_out(req: Request, coupon: dict[str, Any]) -> dict[str, Any]:
    return {**coupon, "_links": links(rest_base(req), "coupons", coupon["id"])}


def _create_coupon(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    code = str(data.get("code") or "").strip().lower()
    if not code:
        raise WooError("rest_missing_callback_param", "Missing parameter(s): code", 400, params=["code"])
    if any(c["code"] == code for c in sim.coupons.values()):
        raise WooError("woocommerce_rest_coupon_code_already_exists", "The coupon code already exists", 400)
    kind = data.get("discount_type", "fixed_cart")
    if kind not in ("percent", "fixed_cart", "fixed_product"):
        raise invalid_param("discount_type", "discount_type is not one of percent, fixed_cart, fixed_product.")
    local, gmt = now_pair()
    cid = sim.post_id()
    coupon = new_coupon(cid, code, kind, str(data.get("amount") or "0"), str(data.get("description") or ""), local, gmt)
    for key, value in data.items():
        if key in coupon and key not in ("id", "code", "date_created", "date_created_gmt"):
            coupon[key] = value
    sim.coupons[cid] = coupon
    emit(sim, req, "coupon", "created", cid, dumps(_coupon_out(req, coupon)))
    return _coupon_out(req, coupon)


def _update_coupon(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    coupon = sim.coupons.get(int(data.get("id") or 0))
    if coupon is None:
        raise invalid_id("shop_coupon", 400)
    for key, value in data.items():
        if key in coupon and key not in ("id", "date_created", "date_created_gmt", "usage_count", "used_by"):
            coupon[key] = value
    coupon["date_modified"], coupon["date_modified_gmt"] = now_pair()
    emit(sim, req, "coupon", "updated", coupon["id"], dumps(_coupon_out(req, coupon)))
    return _coupon_out(req, coupon)


def _delete_coupon(sim: WooSim, req: Request, cid: int, hard: bool) -> dict[str, Any]:
    coupon = sim.coupons.get(cid)
    if coupon is None:
        raise invalid_id("shop_coupon")
    if hard:
        del sim.coupons[cid]
    elif coupon["status"] == "trash":
        raise WooError("woocommerce_rest_already_trashed", "The shop_coupon has already been deleted.", 410)
    else:
        coupon["status"] = "trash"
    emit(sim, req, "coupon", "deleted", cid, None)
    return _coupon_out(req, coupon)


def register(sim: WooSim) -> None:
    """Register the coupon routes."""

    @sim.route("GET", "/coupons", "list")
    def _coupons(sim: WooSim, req: Request) -> Response:
        ids = id_filters(req, sorted(sim.coupons, reverse=True))
        ids = [i for i in ids if sim.coupons[i]["status"] != "trash"]
        if req.arg("code"):
            ids = [i for i in ids if sim.coupons[i]["code"] == (req.arg("code") or "").lower()]
        return list_response(req, ids, lambda i: dumps(_coupon_out(req, sim.coupons[i])))

    @sim.route("POST", "/coupons", "create")
    def _create_c(sim: WooSim, req: Request) -> Response:
        obj = _create_coupon(sim, req, body_dict(req))
        return created(obj, obj["_links"]["self"][0]["href"])

    @sim.route("GET", "/coupons/{id:int}", "view")
    def _get_c(sim: WooSim, req: Request, id: int) -> Response:
        coupon = sim.coupons.get(id)
        if coupon is None:
            raise invalid_id("shop_coupon")
        return json_response(_coupon_out(req, coupon))

    @sim.route("PUT", "/coupons/{id:int}", "edit")
    def _put_c(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_update_coupon(sim, req, {**body_dict(req), "id": id}))

    @sim.route("DELETE", "/coupons/{id:int}", "delete")
    def _delete_c(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_delete_coupon(sim, req, id, force(req)))

    @sim.route("POST", "/coupons/batch", "batch")
    def _batch_c(sim: WooSim, req: Request) -> Response:
        return batch(
            sim,
            req,
            lambda d: _create_coupon(sim, req, d),
            lambda d: _update_coupon(sim, req, d),
            lambda d: _delete_coupon(sim, req, int(d.get("id") or 0), True),
        )
