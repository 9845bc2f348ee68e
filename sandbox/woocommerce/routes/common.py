"""Helpers shared by the resource routes: rendering, batch, 201 + Location, booleans."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.http import Request, Response, json_response
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.objects import SITE, as_bool

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = (
    "SITE",
    "as_bool",
    "batch",
    "body_dict",
    "created",
    "fill",
    "force",
    "rest_base",
    "site_url",
)

_SITE_B = SITE.encode()


def site_url(req: Request) -> str:
    """The store's home URL (no trailing slash), e.g. ``http://127.0.0.1:8100/woocommerce``."""
    return req.base_url


def rest_base(req: Request) -> str:
    """``{site}/wp-json/wc/v3``."""
    return req.base_url + "/wp-json/wc/v3"


def fill(req: Request, raw: bytes) -> bytes:
    """Stored record bytes with the site placeholder replaced by the request's store URL."""
    return raw.replace(_SITE_B, req.base_url.encode()) if _SITE_B in raw else raw


def force(req: Request) -> bool:
    """The ``force`` query parameter."""
    return as_bool(req.arg("force", "false"))


def body_dict(req: Request) -> dict[str, Any]:
    """The JSON object body (400 when it is not an object)."""
    data = req.json()
    if not isinstance(data, dict):
        raise WooError("rest_invalid_json", "Invalid JSON body passed.", 400)
    return data


def created(obj: dict[str, Any] | bytes, location: str) -> Response:
    """201 with ``Location``."""
    return json_response(obj, 201, [("Location", location)])


Op = Callable[[dict[str, Any]], dict[str, Any]]


def batch(sim: WooSim, req: Request, create: Op | None, update: Op | None, delete: Op | None) -> Response:
    """``POST …/batch``: create, update, delete; 413 above 100 items; failed items carry their error inline."""
    data = body_dict(req)
    groups = {k: data.get(k) or [] for k in ("create", "update", "delete")}
    if sum(len(v) for v in groups.values() if isinstance(v, list)) > 100:
        raise WooError(
            "woocommerce_rest_request_entity_too_large", "Unable to accept more than 100 items for this request.", 413
        )
    out: dict[str, list[Any]] = {}
    for key, fn in (("create", create), ("update", update), ("delete", delete)):
        items = groups[key]
        if not items or fn is None:
            continue
        results: list[Any] = []
        for item in items:
            payload = {"id": item} if key == "delete" and not isinstance(item, dict) else item
            try:
                if not isinstance(payload, dict):
                    raise WooError("rest_invalid_param", "Invalid parameter(s): item", 400)
                results.append(fn(payload))
            except WooError as exc:
                rid = payload.get("id", 0) if isinstance(payload, dict) and key != "create" else 0
                results.append(
                    {
                        "id": _int(rid),
                        "error": {"code": exc.code, "message": exc.message, "data": {"status": exc.status, **exc.data}},
                    }
                )
        out[key] = results
    return json_response(out)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
