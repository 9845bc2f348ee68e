"""Store configuration endpoints: taxes and tax classes, shipping zones/locations/methods, shipping methods,
payment gateways, settings, data (countries, currencies, continents), system status, order totals report."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, json_response
from sandbox.woocommerce.errors import WooError, invalid_param
from sandbox.woocommerce.listing import id_filters, list_response, sort_ids
from sandbox.woocommerce.objects import links, slugify
from sandbox.woocommerce.orders import CURRENCY_SYMBOLS, ORDER_STATUSES
from sandbox.woocommerce.routes.common import as_bool, batch, body_dict, created, force, rest_base
from sandbox.woocommerce.store import COUNTRIES, EU_RATES, load_data

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


def _settings_groups(sim: WooSim) -> dict[str, list[dict[str, Any]]]:
    return {"general": sim.store.general, "tax": sim.store.tax_options}


def _option(sim: WooSim, group: str, oid: str) -> dict[str, Any]:
    groups = _settings_groups(sim)
    if group not in groups:
        raise WooError("rest_setting_setting_group_invalid", "Invalid setting group.", 404)
    opt = next((o for o in groups[group] if o["id"] == oid), None)
    if opt is None:
        raise WooError("rest_setting_setting_invalid", "Invalid setting.", 404)
    return opt


def _option_out(req: Request, group: str, opt: dict[str, Any]) -> dict[str, Any]:
    base = rest_base(req)
    return {**opt, "group_id": group, "_links": links(base, f"settings/{group}", opt["id"])}


def _set_option(sim: WooSim, group: str, oid: str, value: Any) -> dict[str, Any]:
    opt = _option(sim, group, oid)
    if "options" in opt and value not in opt["options"]:
        raise WooError("rest_setting_value_invalid", "An invalid setting value was passed.", 400)
    opt["value"] = value
    sim.store.invalidate()
    return opt


def register(sim: WooSim) -> None:
    """Register the configuration routes."""

    # -- taxes ------------------------------------------------------------------------------------------------
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

    # -- shipping ---------------------------------------------------------------------------------------------
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

    # -- payment gateways ---------------------------------------------------------------------------------------
    def _gateway(gid: str) -> dict[str, Any]:
        gw = next((g for g in sim.store.gateways if g["id"] == gid), None)
        if gw is None:
            raise WooError("woocommerce_rest_payment_gateway_invalid", "Resource does not exist.", 404)
        return gw

    @sim.route("GET", "/payment_gateways", "list")
    def _gateways(sim: WooSim, req: Request) -> Response:
        base = rest_base(req)
        return json_response([{**g, "_links": links(base, "payment_gateways", g["id"])} for g in sim.store.gateways])

    @sim.route("GET", "/payment_gateways/{id}", "view")
    def _get_gateway(sim: WooSim, req: Request, id: str) -> Response:
        return json_response({**_gateway(id), "_links": links(rest_base(req), "payment_gateways", id)})

    @sim.route("PUT", "/payment_gateways/{id}", "edit")
    def _put_gateway(sim: WooSim, req: Request, id: str) -> Response:
        gw = _gateway(id)
        data = body_dict(req)
        for key in ("title", "description", "order", "enabled"):
            if key in data:
                gw[key] = data[key]
        for key, value in (data.get("settings") or {}).items():
            if key in gw["settings"]:
                gw["settings"][key]["value"] = value
        return json_response({**gw, "_links": links(rest_base(req), "payment_gateways", id)})

    # -- settings -----------------------------------------------------------------------------------------------
    @sim.route("GET", "/settings", "list")
    def _groups(sim: WooSim, req: Request) -> Response:
        return json_response(load_data("settings_groups.json"))

    @sim.route("GET", "/settings/{group}", "list")
    def _group(sim: WooSim, req: Request, group: str) -> Response:
        groups = _settings_groups(sim)
        if group not in groups:
            raise WooError("rest_setting_setting_group_invalid", "Invalid setting group.", 404)
        return json_response([_option_out(req, group, o) for o in groups[group]])

    @sim.route("GET", "/settings/{group}/{id}", "view")
    def _get_opt(sim: WooSim, req: Request, group: str, id: str) -> Response:
        return json_response(_option_out(req, group, _option(sim, group, id)))

    @sim.route("PUT", "/settings/{group}/{id}", "edit")
    def _put_opt(sim: WooSim, req: Request, group: str, id: str) -> Response:
        data = body_dict(req)
        return json_response(_option_out(req, group, _set_option(sim, group, id, data.get("value"))))

    @sim.route("POST", "/settings/{group}/batch", "batch")
    def _batch_opt(sim: WooSim, req: Request, group: str) -> Response:
        return batch(
            sim,
            req,
            None,
            lambda d: _option_out(req, group, _set_option(sim, group, str(d.get("id")), d.get("value"))),
            None,
        )

    # -- data, system status, reports -----------------------------------------------------------------------------
    @sim.route("GET", "/data", "list")
    def _data(sim: WooSim, req: Request) -> Response:
        base = rest_base(req)
        return json_response(
            [
                {"slug": s, "description": d, "_links": {"self": [{"href": f"{base}/data/{s}"}]}}
                for s, d in (
                    ("continents", "List of supported continents, countries, and states."),
                    ("countries", "List of supported states in a given country."),
                    ("currencies", "List of supported currencies."),
                )
            ]
        )

    @sim.route("GET", "/data/countries", "list")
    def _countries(sim: WooSim, req: Request) -> Response:
        base = rest_base(req)
        return json_response([{**c, "_links": links(base, "data/countries", c["code"].lower())} for c in COUNTRIES])

    @sim.route("GET", "/data/countries/{code}", "view")
    def _country(sim: WooSim, req: Request, code: str) -> Response:
        country = next((c for c in COUNTRIES if c["code"].lower() == code.lower()), None)
        if country is None:
            raise WooError(
                "woocommerce_rest_data_invalid_location", "There are no locations matching these parameters.", 404
            )
        return json_response({**country, "_links": links(rest_base(req), "data/countries", code.lower())})

    @sim.route("GET", "/data/currencies", "list")
    def _currencies(sim: WooSim, req: Request) -> Response:
        names = {
            "EUR": "Euro",
            "USD": "United States (US) dollar",
            "GBP": "Pound sterling",
            "CHF": "Swiss franc",
            "SEK": "Swedish krona",
            "DKK": "Danish krone",
            "PLN": "Polish złoty",
            "HRK": "Croatian kuna",
        }
        base = rest_base(req)
        return json_response(
            [
                {
                    "code": c,
                    "name": n,
                    "symbol": CURRENCY_SYMBOLS.get(c, c),
                    "_links": links(base, "data/currencies", c.lower()),
                }
                for c, n in names.items()
            ]
        )

    @sim.route("GET", "/data/currencies/current", "view")
    def _currency(sim: WooSim, req: Request) -> Response:
        return json_response(
            {"code": sim.store.currency, "name": "Euro", "symbol": CURRENCY_SYMBOLS.get(sim.store.currency, "")}
        )

    @sim.route("GET", "/data/continents", "list")
    def _continents(sim: WooSim, req: Request) -> Response:
        eu = [c for c in COUNTRIES if c["code"] in EU_RATES or c["code"] in ("GB", "CH", "NO")]
        return json_response(
            [
                {
                    "code": "EU",
                    "name": "Europe",
                    "countries": eu,
                    "_links": links(rest_base(req), "data/continents", "eu"),
                }
            ]
        )

    @sim.route("GET", "/system_status", "view")
    def _status(sim: WooSim, req: Request) -> Response:
        data = load_data("system_status.json")
        data["environment"].update(
            {
                "home_url": req.base_url,
                "site_url": req.base_url,
                "version": "9.8.5",
                "wp_version": "6.7.2",
                "language": "nl_NL",
                "default_timezone": "Europe/Amsterdam",
            }
        )
        data["settings"].update(
            {
                "currency": sim.store.currency,
                "currency_symbol": "&euro;",
                "currency_position": "left_space",
                "thousand_separator": ".",
                "decimal_separator": ",",
                "number_of_decimals": 2,
            }
        )
        return json_response(data)

    @sim.route("GET", "/reports/orders/totals", "list")
    def _totals(sim: WooSim, req: Request) -> Response:
        counts = Counter(x["status"] for x in sim.orders.index.values())
        names = {
            "pending": "Pending payment",
            "processing": "Processing",
            "on-hold": "On hold",
            "completed": "Completed",
            "cancelled": "Cancelled",
            "refunded": "Refunded",
            "failed": "Failed",
            "checkout-draft": "Draft",
        }
        return json_response([{"slug": s, "name": names[s], "total": counts.get(s, 0)} for s in ORDER_STATUSES])
