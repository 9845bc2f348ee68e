"""Public webhook endpoints under ``/hooks`` (no login; the signature or the flow's secret is the credential)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Controller, MediaType, Request, Response, post

from engine.generic_hooks import receive_generic
from engine.webhooks import receive_delivery

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("ROUTES", "WebhookController")


async def _delivery(request: Request[Any, Any, Any]) -> tuple[dict[str, str], bytes, str]:
    """What a receiver checks of a delivery: its headers, its raw body and the sender's address."""
    return dict(request.headers), await request.body(), request.client.host if request.client else ""


class WebhookController(Controller):
    """Deliveries for a flow, answered in JSON."""

    path = "/hooks"
    tags = ["webhooks"]
    opt = {"exclude_from_auth": True}

    @post("/woocommerce/{flow_id:str}", operation_id="WooCommerceWebhook", media_type=MediaType.JSON, status_code=200)
    async def woocommerce(
        self, request: Request[Any, Any, Any], db: Database, flow_id: str
    ) -> Response[dict[str, Any]]:
        """A WooCommerce webhook delivery (or ping) for a flow.

        A valid ``X-WC-Webhook-Signature`` → 200 and the record is queued; the ping (form body ``webhook_id=N``, no
        signature headers) → 200; a missing or wrong signature → 401 and nothing runs; a replayed delivery id → 409.
        """
        headers, body, client = await _delivery(request)
        answer = await receive_delivery(db, flow_id, headers, body, client=client)
        return Response(answer.body, status_code=answer.status, media_type=MediaType.JSON)

    @post("/generic/{flow_id:str}", operation_id="GenericWebhook", media_type=MediaType.JSON, status_code=200)
    async def generic(self, request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[dict[str, Any]]:
        """A JSON delivery from any application for a flow (see :mod:`engine.generic_hooks`).

        ``X-Koppel-Token: <the flow's webhook secret>`` or ``X-Koppel-Signature: sha256=<hex HMAC-SHA256 of the
        body>`` → 200 and a run of the flow for the payload; a missing or wrong secret → 401 and nothing runs; a
        replayed ``X-Koppel-Delivery`` → 409; the flow busy → 503 with ``Retry-After``.
        """
        headers, body, client = await _delivery(request)
        answer, extra = await receive_generic(db, flow_id, headers, body, client=client)
        return Response(answer.body, status_code=answer.status, media_type=MediaType.JSON, headers=extra)


ROUTES = [WebhookController]
