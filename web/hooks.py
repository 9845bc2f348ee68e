"""Public webhook endpoints: ``POST /hooks/woocommerce/{flow_id}`` (no login; the signature is the credential)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import MediaType, Request, Response, post

from engine.generic_hooks import receive_generic
from engine.webhooks import receive_delivery

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("ROUTES", "generic_hook", "woocommerce_hook")


@post(
    "/hooks/woocommerce/{flow_id:str}",
    exclude_from_auth=True,
    media_type=MediaType.JSON,
    operation_id="WooCommerceWebhook",
    tags=["webhooks"],
    status_code=200,
)
async def woocommerce_hook(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[dict[str, Any]]:
    """A WooCommerce webhook delivery (or ping) for a flow.

    A valid ``X-WC-Webhook-Signature`` → 200 and the record is queued; the ping (form body ``webhook_id=N``, no
    signature headers) → 200; a missing or wrong signature → 401 and nothing runs; a replayed delivery id → 409.
    """
    body = await request.body()
    client = request.client.host if request.client else ""
    answer = await receive_delivery(db, flow_id, dict(request.headers), body, client=client)
    return Response(answer.body, status_code=answer.status, media_type=MediaType.JSON)


@post(
    "/hooks/generic/{flow_id:str}",
    exclude_from_auth=True,
    media_type=MediaType.JSON,
    operation_id="GenericWebhook",
    tags=["webhooks"],
    status_code=200,
)
async def generic_hook(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[dict[str, Any]]:
    """A JSON delivery from any application for a flow (see :mod:`engine.generic_hooks`).

    ``X-Koppel-Token: <the flow's webhook secret>`` or ``X-Koppel-Signature: sha256=<hex HMAC-SHA256 of the body>``
    → 200 and a run of the flow for the payload; a missing or wrong secret → 401 and nothing runs; a replayed
    ``X-Koppel-Delivery`` → 409; the flow busy → 503 with ``Retry-After``.
    """
    body = await request.body()
    client = request.client.host if request.client else ""
    answer, headers = await receive_generic(db, flow_id, dict(request.headers), body, client=client)
    return Response(answer.body, status_code=answer.status, media_type=MediaType.JSON, headers=headers)


ROUTES = [woocommerce_hook, generic_hook]
