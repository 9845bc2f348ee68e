"""``/payment_gateways``, ``/settings``, ``/data``, ``/system_status`` and ``/reports/orders/totals``."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, json_response
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.objects import links
from sandbox.woocommerce.orders import CURRENCY_SYMBOLS, ORDER_STATUSES
from sandbox.woocommerce.routes.common import batch, body_dict, rest_base
from sandbox.woocommerce.store import COUNTRIES, EU_RATES, load_data

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)


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
    """Register the payment gateway, settings, data, system status and report routes."""

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
