"""``/customers`` (+ batch): customers are WordPress users (their own id sequence; no trash)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, json_response, loads
from sandbox.woocommerce.errors import WooError, invalid_id, invalid_param
from sandbox.woocommerce.listing import id_filters, list_response, sort_ids
from sandbox.woocommerce.objects import billing_address, new_customer, now_pair, shipping_address
from sandbox.woocommerce.orders import _meta
from sandbox.woocommerce.routes.common import batch, body_dict, created, fill, force
from sandbox.woocommerce.webhooks import emit

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)

_EMAIL_EXISTS = (
    "An account is already registered with your email address. " + '<a href="#" class="showlogin">Please log in.</a>'
)
_ORDERBY = {"name": "name", "id": None, "include": "name", "registered_date": "created_gmt"}
_ROLES = ("all", "administrator", "editor", "author", "contributor", "subscriber", "customer", "shop_manager")


def _render(sim: WooSim, req: Request, cid: int) -> bytes | None:
    raw = sim.customers.raw(cid)
    return None if raw is None else fill(req, raw)


def _out(sim: WooSim, req: Request, cid: int) -> dict[str, Any]:
    body = _render(sim, req, cid)
    assert body is not None
    result: dict[str, Any] = loads(body)
    return result


def _email_taken(sim: WooSim, email: str, own: int = 0) -> bool:
    e = email.strip().lower()
    return any(x["email"] == e and i != own for i, x in sim.customers.index.items())


def _create(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("id"):
        raise WooError("woocommerce_rest_customer_exists", "Cannot create existing resource.", 400)
    email = str(data.get("email") or "").strip()
    if not email:
        raise WooError("rest_missing_callback_param", "Missing parameter(s): email", 400, params=["email"])
    if "@" not in email:
        raise invalid_param("email", "Invalid email address.", "rest_invalid_email")
    if _email_taken(sim, email):
        raise WooError(
            "registration-error-email-exists",
            _EMAIL_EXISTS,
            400,
        )
    cid = sim.user_id()
    customer = new_customer(cid, data, now_pair())
    customer["meta_data"] = _meta(sim, data.get("meta_data"))
    sim.customers.put(customer)
    emit(sim, req, "customer", "created", cid, _render(sim, req, cid))
    return _out(sim, req, cid)


def _update(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    cid = int(data.get("id") or 0)
    customer = sim.customers.get(cid)
    if customer is None:
        raise invalid_id("", 400)
    if "email" in data:
        if _email_taken(sim, str(data["email"]), cid):
            raise WooError("woocommerce_rest_customer_invalid_email", "Email address is invalid.", 400)
        customer["email"] = data["email"]
    for key in ("first_name", "last_name", "role", "username"):
        if key in data:
            customer[key] = data[key]
    if isinstance(data.get("billing"), dict):
        customer["billing"] = billing_address({**customer["billing"], **data["billing"]})
    if isinstance(data.get("shipping"), dict):
        customer["shipping"] = shipping_address({**customer["shipping"], **data["shipping"]})
    if "meta_data" in data:
        customer["meta_data"] = _meta(sim, data["meta_data"], customer.get("meta_data"))
    customer["date_modified"], customer["date_modified_gmt"] = now_pair()
    sim.customers.put(customer)
    emit(sim, req, "customer", "updated", cid, _render(sim, req, cid))
    return _out(sim, req, cid)


def _delete(sim: WooSim, req: Request, cid: int, hard: bool) -> dict[str, Any]:
    if cid not in sim.customers:
        raise invalid_id("")
    if not hard:
        raise WooError("woocommerce_rest_trash_not_supported", "Customers do not support trashing.", 501)
    out = _out(sim, req, cid)
    sim.customers.delete(cid)
    emit(sim, req, "customer", "deleted", cid, None)
    return out


def register(sim: WooSim) -> None:
    """Register the customer routes."""

    @sim.route("GET", "/customers", "list")
    def _list(sim: WooSim, req: Request) -> Response:
        index = sim.customers.index
        ids = id_filters(req, index)
        role = req.arg("role") or "customer"
        if role not in _ROLES:
            raise invalid_param("role", f"role is not one of {', '.join(_ROLES)}.", "rest_not_in_enum")
        if role != "all":
            ids = [i for i in ids if index[i]["role"] == role]
        if req.arg("email"):
            email = (req.arg("email") or "").strip().lower()
            ids = [i for i in ids if index[i]["email"] == email]
        search = (req.arg("search") or "").strip().lower()
        if search:
            ids = [i for i in ids if search in index[i]["email"] or search in index[i]["name"]]
        ids = sort_ids(req, ids, index, _ORDERBY, default_orderby="name", default_order="asc")
        return list_response(req, ids, sim.customers.raw)

    @sim.route("POST", "/customers", "create")
    def _post(sim: WooSim, req: Request) -> Response:
        obj = _create(sim, req, body_dict(req))
        return created(obj, obj["_links"]["self"][0]["href"])

    @sim.route("GET", "/customers/{id:int}", "view")
    def _get(sim: WooSim, req: Request, id: int) -> Response:
        body = _render(sim, req, id)
        if body is None:
            raise invalid_id("")
        return json_response(body)

    @sim.route("PUT", "/customers/{id:int}", "edit")
    def _put(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_update(sim, req, {**body_dict(req), "id": id}))

    sim.route("PATCH", "/customers/{id:int}", "edit")(_put)
    sim.route("POST", "/customers/{id:int}", "edit")(_put)

    @sim.route("DELETE", "/customers/{id:int}", "delete")
    def _del(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_delete(sim, req, id, force(req)))

    @sim.route("POST", "/customers/batch", "batch")
    def _batch(sim: WooSim, req: Request) -> Response:
        return batch(
            sim,
            req,
            lambda d: _create(sim, req, d),
            lambda d: _update(sim, req, d),
            lambda d: _delete(sim, req, int(d.get("id") or 0), True),
        )

    sim.route("PUT", "/customers/batch", "batch")(_batch)
