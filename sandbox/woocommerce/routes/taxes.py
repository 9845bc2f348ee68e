"""``/taxes`` (+ batch) and ``/taxes/classes``: the store's tax rates, used by the totals engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, json_response
from sandbox.woocommerce.errors import WooError, invalid_param
from sandbox.woocommerce.listing import id_filters, list_response, sort_ids
from sandbox.woocommerce.objects import links, slugify
from sandbox.woocommerce.routes.common import as_bool, batch, body_dict, created, force, rest_base

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)

_RATE_FIELDS = (
    "country",
    "state",
    "postcode",
    "city",
    "postcodes",
    "cities",
    "rate",
    "name",
    "priority",
    "compound",
    "shipping",
    "order",
    "class",
)


def _rate_out(req: Request, rate: dict[str, Any]) -> dict[str, Any]:
    return {**rate, "_links": links(rest_base(req), "taxes", rate["id"])}


def _apply_rate(sim: WooSim, rate: dict[str, Any], data: dict[str, Any]) -> None:
    sim.store.invalidate()
    for key in _RATE_FIELDS:
        if key not in data:
            continue
        value = data[key]
        if key == "rate":
            try:
                value = f"{float(value):.4f}"
            except (TypeError, ValueError):
                raise invalid_param("rate", "rate is not of type string.", "rest_invalid_type") from None
        elif key == "class":
            slug = value or "standard"
            if slug not in sim.store.class_slugs():
                raise invalid_param(
                    "class", f"class is not one of {', '.join(sim.store.class_slugs())}.", "rest_not_in_enum"
                )
            value = slug
        elif key in ("priority", "order"):
            value = int(value)
        elif key in ("compound", "shipping"):
            value = as_bool(value)
        elif key in ("country", "state"):
            value = str(value or "").upper()
        elif key in ("postcodes", "cities"):
            value = [str(v) for v in value or []]
        rate[key] = value
    if "postcodes" in data and "postcode" not in data:
        rate["postcode"] = ";".join(rate["postcodes"])
    if "cities" in data and "city" not in data:
        rate["city"] = ";".join(rate["cities"])
    if "postcode" in data and "postcodes" not in data:
        rate["postcodes"] = [p for p in str(data["postcode"] or "").split(";") if p]
    if "city" in data and "cities" not in data:
        rate["cities"] = [c for c in str(data["city"] or "").split(";") if c]


def _create_rate(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    rid = sim.store.next_rate_id
    sim.store.next_rate_id += 1
    rate = {
        "id": rid,
        "country": "",
        "state": "",
        "postcode": "",
        "city": "",
        "postcodes": [],
        "cities": [],
        "rate": "0.0000",
        "name": "",
        "priority": 1,
        "compound": False,
        "shipping": True,
        "order": 0,
        "class": "standard",
    }
    _apply_rate(sim, rate, data)
    sim.store.tax_rates[rid] = rate
    return _rate_out(req, rate)


def _update_rate(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    rate = sim.store.tax_rates.get(int(data.get("id") or 0))
    if rate is None:
        raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 400)
    _apply_rate(sim, rate, data)
    return _rate_out(req, rate)


def _delete_rate(sim: WooSim, req: Request, rid: int, hard: bool) -> dict[str, Any]:
    rate = sim.store.tax_rates.get(rid)
    if rate is None:
        raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
    if not hard:
        raise WooError("woocommerce_rest_trash_not_supported", "Taxes do not support trashing.", 501)
    del sim.store.tax_rates[rid]
    sim.store.invalidate()
    return _rate_out(req, rate)


def register(sim: WooSim) -> None:
    """Register the tax routes."""

    @sim.route("GET", "/taxes", "list")
    def _taxes(sim: WooSim, req: Request) -> Response:
        rates = sim.store.tax_rates
        index = {i: {"order": (r["order"], r["priority"])} for i, r in rates.items()}
        ids = id_filters(req, rates)
        if req.arg("class"):
            ids = [i for i in ids if rates[i]["class"] == req.arg("class")]
        ids = sort_ids(req, ids, index, {"id": None, "order": "order", "priority": "order"}, "order", "asc")
        return list_response(req, ids, lambda i: json_response(_rate_out(req, rates[i])).body)

    @sim.route("POST", "/taxes", "create")
    def _create_tax(sim: WooSim, req: Request) -> Response:
        obj = _create_rate(sim, req, body_dict(req))
        return created(obj, obj["_links"]["self"][0]["href"])

    @sim.route("GET", "/taxes/{id:int}", "view")
    def _get_tax(sim: WooSim, req: Request, id: int) -> Response:
        rate = sim.store.tax_rates.get(id)
        if rate is None:
            raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        return json_response(_rate_out(req, rate))

    @sim.route("PUT", "/taxes/{id:int}", "edit")
    def _put_tax(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_update_rate(sim, req, {**body_dict(req), "id": id}))

    @sim.route("DELETE", "/taxes/{id:int}", "delete")
    def _del_tax(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_delete_rate(sim, req, id, force(req)))

    @sim.route("POST", "/taxes/batch", "batch")
    def _batch_tax(sim: WooSim, req: Request) -> Response:
        return batch(
            sim,
            req,
            lambda d: _create_rate(sim, req, d),
            lambda d: _update_rate(sim, req, d),
            lambda d: _delete_rate(sim, req, int(d.get("id") or 0), True),
        )

    @sim.route("GET", "/taxes/classes", "list")
    def _classes(sim: WooSim, req: Request) -> Response:
        base = rest_base(req)
        return json_response(
            [{**c, "_links": {"collection": [{"href": f"{base}/taxes/classes"}]}} for c in sim.store.tax_classes]
        )

    @sim.route("POST", "/taxes/classes", "create")
    def _create_class(sim: WooSim, req: Request) -> Response:
        data = body_dict(req)
        name = str(data.get("name") or "").strip()
        if not name:
            raise WooError("rest_missing_callback_param", "Missing parameter(s): name", 400, params=["name"])
        slug = slugify(name)
        if slug in sim.store.class_slugs():
            raise WooError("woocommerce_rest_tax_class_exists", "Tax class already exists", 400)
        sim.store.tax_classes.append({"slug": slug, "name": name})
        base = rest_base(req)
        return created(
            {"slug": slug, "name": name, "_links": {"collection": [{"href": f"{base}/taxes/classes"}]}},
            f"{base}/taxes/classes/{slug}",
        )

    @sim.route("GET", "/taxes/classes/{slug}", "view")
    def _get_class(sim: WooSim, req: Request, slug: str) -> Response:
        rates = [r for r in sim.store.tax_rates.values() if r["class"] == slug]
        if slug not in sim.store.class_slugs():
            raise WooError("woocommerce_rest_tax_class_invalid_slug", "Invalid tax class slug.", 404)
        return json_response([_rate_out(req, r) for r in rates])

    @sim.route("DELETE", "/taxes/classes/{slug}", "delete")
    def _del_class(sim: WooSim, req: Request, slug: str) -> Response:
        if not force(req):
            raise WooError("woocommerce_rest_trash_not_supported", "Taxes do not support trashing.", 501)
        cls = next((c for c in sim.store.tax_classes if c["slug"] == slug and slug != "standard"), None)
        if cls is None:
            raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        sim.store.tax_classes.remove(cls)
        sim.store.invalidate()
        return json_response(cls)
