"""``/shipping/zones`` with their locations and methods, and ``/shipping_methods``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, json_response
from sandbox.woocommerce.errors import WooError, invalid_param
from sandbox.woocommerce.objects import links
from sandbox.woocommerce.routes.common import as_bool, body_dict, created, force, rest_base
from sandbox.woocommerce.store import load_data

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)


def _zone(sim: WooSim, zid: int) -> dict[str, Any]:
    zone = sim.store.zones.get(zid)
    if zone is None:
        raise WooError("woocommerce_rest_shipping_zone_invalid", "Resource does not exist.", 404)
    return zone


def _zone_out(req: Request, zone: dict[str, Any]) -> dict[str, Any]:
    base = rest_base(req)
    out = {**zone, "_links": links(base, "shipping/zones", zone["id"])}
    out["_links"]["describedby"] = [{"href": f"{base}/shipping/zones/{zone['id']}/locations"}]
    return out


def _method_out(req: Request, zid: int, method: dict[str, Any]) -> dict[str, Any]:
    base = rest_base(req)
    out = {**method}
    out["_links"] = links(base, f"shipping/zones/{zid}/methods", method["instance_id"])
    out["_links"]["describes"] = [{"href": f"{base}/shipping/zones/{zid}"}]
    return out


def register(sim: WooSim) -> None:
    """Register the shipping routes."""

    @sim.route("GET", "/shipping/zones", "list")
    def _zones(sim: WooSim, req: Request) -> Response:
        zones = sorted(sim.store.zones.values(), key=lambda z: (z["id"] != 0, z["order"], z["id"]))
        return json_response([_zone_out(req, z) for z in zones])

    @sim.route("POST", "/shipping/zones", "create")
    def _create_zone(sim: WooSim, req: Request) -> Response:
        data = body_dict(req)
        if not data.get("name"):
            raise WooError("rest_missing_callback_param", "Missing parameter(s): name", 400, params=["name"])
        zid = sim.store.next_zone_id
        sim.store.next_zone_id += 1
        zone = {"id": zid, "name": str(data["name"]), "order": int(data.get("order") or 0)}
        sim.store.zones[zid] = zone
        sim.store.zone_locations[zid], sim.store.zone_methods[zid] = [], []
        out = _zone_out(req, zone)
        return created(out, out["_links"]["self"][0]["href"])

    @sim.route("GET", "/shipping/zones/{id:int}", "view")
    def _get_zone(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_zone_out(req, _zone(sim, id)))

    @sim.route("PUT", "/shipping/zones/{id:int}", "edit")
    def _put_zone(sim: WooSim, req: Request, id: int) -> Response:
        zone = _zone(sim, id)
        data = body_dict(req)
        for key in ("name", "order"):
            if key in data:
                zone[key] = data[key]
        return json_response(_zone_out(req, zone))

    @sim.route("DELETE", "/shipping/zones/{id:int}", "delete")
    def _del_zone(sim: WooSim, req: Request, id: int) -> Response:
        zone = _zone(sim, id)
        if not force(req):
            raise WooError("woocommerce_rest_trash_not_supported", "Resource does not support trashing.", 501)
        if id == 0:
            raise WooError(
                "woocommerce_rest_shipping_zone_invalid_zone",
                'The "locations not covered by your other zones" zone cannot be updated.',
                403,
            )
        del sim.store.zones[id]
        return json_response(_zone_out(req, zone))

    @sim.route("GET", "/shipping/zones/{id:int}/locations", "view")
    def _locations(sim: WooSim, req: Request, id: int) -> Response:
        _zone(sim, id)
        base = rest_base(req)
        return json_response(
            [
                {
                    **loc,
                    "_links": {
                        "collection": [{"href": f"{base}/shipping/zones/{id}/locations"}],
                        "describes": [{"href": f"{base}/shipping/zones/{id}"}],
                    },
                }
                for loc in sim.store.zone_locations.get(id, [])
            ]
        )

    @sim.route("PUT", "/shipping/zones/{id:int}/locations", "edit")
    def _put_locations(sim: WooSim, req: Request, id: int) -> Response:
        _zone(sim, id)
        data = req.json()
        if not isinstance(data, list):
            raise invalid_param("locations", "locations is not of type array.", "rest_invalid_type")
        sim.store.zone_locations[id] = [
            {"code": str(x.get("code", "")), "type": x.get("type", "country")} for x in data
        ]
        return _locations(sim, req, id=id)

    @sim.route("GET", "/shipping/zones/{zone_id:int}/methods", "list")
    def _methods(sim: WooSim, req: Request, zone_id: int) -> Response:
        _zone(sim, zone_id)
        return json_response([_method_out(req, zone_id, m) for m in sim.store.zone_methods.get(zone_id, [])])

    def _find_method(zone_id: int, instance_id: int) -> dict[str, Any]:
        _zone(sim, zone_id)
        method = next((m for m in sim.store.zone_methods.get(zone_id, []) if m["instance_id"] == instance_id), None)
        if method is None:
            raise WooError("woocommerce_rest_shipping_zone_method_invalid", "Resource does not exist.", 404)
        return method

    @sim.route("GET", "/shipping/zones/{zone_id:int}/methods/{id:int}", "view")
    def _get_method(sim: WooSim, req: Request, zone_id: int, id: int) -> Response:
        return json_response(_method_out(req, zone_id, _find_method(zone_id, id)))

    @sim.route("POST", "/shipping/zones/{zone_id:int}/methods", "create")
    def _create_method(sim: WooSim, req: Request, zone_id: int) -> Response:
        _zone(sim, zone_id)
        data = body_dict(req)
        templates = {m["method_id"]: m for m in load_data("shipping_method_templates.json")}
        method_id = data.get("method_id")
        if method_id not in ("flat_rate", "free_shipping", "local_pickup"):
            raise WooError("woocommerce_rest_shipping_zone_method_invalid", "Resource does not exist.", 400)
        method = dict(templates.get(method_id) or templates["flat_rate"])
        method["method_id"] = method_id
        existing = [m["instance_id"] for ms in sim.store.zone_methods.values() for m in ms]
        method["instance_id"] = max(existing, default=0) + 1
        method["enabled"] = as_bool(data.get("enabled", True))
        method["order"] = int(data.get("order") or 0)
        for key, value in (data.get("settings") or {}).items():
            if key in method["settings"]:
                method["settings"][key] = {**method["settings"][key], "value": value}
        sim.store.zone_methods.setdefault(zone_id, []).append(method)
        out = _method_out(req, zone_id, method)
        return created(out, out["_links"]["self"][0]["href"])

    @sim.route("PUT", "/shipping/zones/{zone_id:int}/methods/{id:int}", "edit")
    def _put_method(sim: WooSim, req: Request, zone_id: int, id: int) -> Response:
        method = _find_method(zone_id, id)
        data = body_dict(req)
        for key in ("enabled", "order"):
            if key in data:
                method[key] = data[key]
        for key, value in (data.get("settings") or {}).items():
            if key in method["settings"]:
                method["settings"][key]["value"] = value
        return json_response(_method_out(req, zone_id, method))

    @sim.route("DELETE", "/shipping/zones/{zone_id:int}/methods/{id:int}", "delete")
    def _del_method(sim: WooSim, req: Request, zone_id: int, id: int) -> Response:
        method = _find_method(zone_id, id)
        if not force(req):
            raise WooError("woocommerce_rest_trash_not_supported", "Resource does not support trashing.", 501)
        sim.store.zone_methods[zone_id].remove(method)
        return json_response(_method_out(req, zone_id, method))

    @sim.route("GET", "/shipping_methods", "list")
    def _shipping_methods(sim: WooSim, req: Request) -> Response:
        base = rest_base(req)
        items = [
            ("flat_rate", "Flat rate", "Lets you charge a fixed rate for shipping."),
            (
                "free_shipping",
                "Free shipping",
                "Free shipping is a special method which can be triggered with coupons and minimum spends.",
            ),
            ("local_pickup", "Local pickup", "Allow customers to pick up orders themselves."),
        ]
        return json_response(
            [{"id": i, "title": t, "description": d, "_links": links(base, "shipping_methods", i)} for i, t, d in items]
        )
