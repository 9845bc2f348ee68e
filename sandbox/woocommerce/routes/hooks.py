"""``/webhooks`` (+ batch): subscriptions whose deliveries :mod:`sandbox.woocommerce.webhooks` makes."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, dumps, json_response
from sandbox.woocommerce.errors import WooError, invalid_param
from sandbox.woocommerce.listing import check_enum, id_filters, list_response
from sandbox.woocommerce.objects import links, now_pair
from sandbox.woocommerce.routes.common import batch, body_dict, created, force, rest_base
from sandbox.woocommerce.webhooks import HOOKS, ping

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("register",)

_STATUSES = ("active", "paused", "disabled")
_PUBLIC = (
    "id",
    "name",
    "status",
    "topic",
    "resource",
    "event",
    "hooks",
    "delivery_url",
    "date_created",
    "date_created_gmt",
    "date_modified",
    "date_modified_gmt",
)


def _out(req: Request, hook: dict[str, Any]) -> dict[str, Any]:
    out = {k: hook[k] for k in _PUBLIC}
    out["_links"] = links(rest_base(req), "webhooks", hook["id"])
    return out


def _valid_topic(topic: str) -> bool:
    return (
        topic in HOOKS
        or topic.startswith("action.")
        or (topic.endswith(".*") and topic[:-2] in {t.split(".")[0] for t in HOOKS})
    )


def _apply(hook: dict[str, Any], data: dict[str, Any]) -> None:
    if "topic" in data:
        topic = str(data["topic"])
        if not _valid_topic(topic):
            raise WooError("woocommerce_rest_webhook_invalid_topic", "Webhook topic is invalid.", 400)
        hook["topic"] = topic
        hook["resource"], _, hook["event"] = topic.partition(".")
        hook["hooks"] = HOOKS.get(topic, [topic[len("action.") :]] if topic.startswith("action.") else [])
    if "status" in data:
        if data["status"] not in _STATUSES:
            raise invalid_param("status", f"status is not one of {', '.join(_STATUSES)}.", "rest_not_in_enum")
        if data["status"] == "active" and hook.get("status") != "active":
            hook["failure_count"] = 0
        hook["status"] = data["status"]
    for key in ("name", "secret", "delivery_url"):
        if key in data:
            hook[key] = str(data[key])
    hook["date_modified"], hook["date_modified_gmt"] = now_pair()


def _create(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("topic", "delivery_url") if not data.get(k)]
    if missing:
        raise WooError(
            "rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}", 400, params=missing
        )
    url = str(data["delivery_url"])
    if not url.startswith(("http://", "https://")):
        raise invalid_param("delivery_url", "Invalid URL.", "rest_invalid_url")
    hid = sim.next_webhook_id
    sim.next_webhook_id += 1
    local, gmt = now_pair()
    hook: dict[str, Any] = {
        "id": hid,
        "name": "",
        "status": "active",
        "secret": secrets.token_urlsafe(24),
        "failure_count": 0,
        "date_created": local,
        "date_created_gmt": gmt,
    }
    _apply(hook, {"status": "active", **data})
    if not hook["name"]:
        hook["name"] = f"Webhook created on {local}"
    sim.webhooks[hid] = hook
    if hook["status"] == "active":
        ping(sim, hid)
    return _out(req, hook)


def _update(sim: WooSim, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    hook = sim.webhooks.get(int(data.get("id") or 0))
    if hook is None:
        raise WooError("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 400)
    was_active = hook["status"] == "active"
    _apply(hook, data)
    if hook["status"] == "active" and not was_active:
        ping(sim, hook["id"])
    return _out(req, hook)


def _delete(sim: WooSim, req: Request, hid: int, hard: bool) -> dict[str, Any]:
    hook = sim.webhooks.get(hid)
    if hook is None:
        raise WooError("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
    if not hard:
        raise WooError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
    del sim.webhooks[hid]
    return _out(req, hook)


def register(sim: WooSim) -> None:
    """Register the webhook routes."""

    @sim.route("GET", "/webhooks", "list")
    def _list(sim: WooSim, req: Request) -> Response:
        hooks = sim.webhooks
        ids = id_filters(req, sorted(hooks, reverse=(req.arg("order") or "desc") == "desc"))
        statuses = check_enum(req, "status", ("all", *_STATUSES))
        if statuses and "all" not in statuses:
            ids = [i for i in ids if hooks[i]["status"] in statuses]
        return list_response(req, ids, lambda i: dumps(_out(req, hooks[i])))

    @sim.route("POST", "/webhooks", "create")
    def _post(sim: WooSim, req: Request) -> Response:
        obj = _create(sim, req, body_dict(req))
        return created(obj, obj["_links"]["self"][0]["href"])

    @sim.route("GET", "/webhooks/{id:int}", "view")
    def _get(sim: WooSim, req: Request, id: int) -> Response:
        hook = sim.webhooks.get(id)
        if hook is None:
            raise WooError("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
        return json_response(_out(req, hook))

    @sim.route("PUT", "/webhooks/{id:int}", "edit")
    def _put(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_update(sim, req, {**body_dict(req), "id": id}))

    @sim.route("DELETE", "/webhooks/{id:int}", "delete")
    def _del(sim: WooSim, req: Request, id: int) -> Response:
        return json_response(_delete(sim, req, id, force(req)))

    @sim.route("POST", "/webhooks/batch", "batch")
    def _batch(sim: WooSim, req: Request) -> Response:
        return batch(
            sim,
            req,
            lambda d: _create(sim, req, d),
            lambda d: _update(sim, req, d),
            lambda d: _delete(sim, req, int(d.get("id") or 0), True),
        )
