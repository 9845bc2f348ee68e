"""The generic incoming webhook of a flow: ``POST /hooks/generic/{flow_id}`` from any application.

The sender proves it knows the flow's webhook secret (the same sealed per-flow secret WooCommerce deliveries are
signed with) in one of two ways:

- ``X-Koppel-Token: <secret>`` (a secret token header), or
- ``X-Koppel-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>`` (``sha256=`` may be left out).

Both are compared in constant time. A missing or wrong proof → 401, logged, nothing stored and nothing run. The body
must be JSON (else 400). A replay is refused with 409: a delivery whose ``X-Koppel-Delivery`` was received before, or
the same body again within the replay window (``KOPPEL_WEBHOOK_REPLAY_WINDOW_S``, default 24 h, as for WooCommerce's
deliveries); after the window an identical body is a new event and runs again. A valid delivery starts a run of the
flow at once with the payload as the run parameter ``webhook_payloads`` (read by the ``webhook.payload`` source);
when the flow is busy or cannot start, the delivery is forgotten again and the answer is 503 with ``Retry-After``, so
the sender's retry is accepted: none is lost silently.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, update

from engine.models import Flow, WebhookDelivery
from engine.settings import get_settings
from engine.webhooks import HookAnswer, body_hash, delivery_key, flow_secret, remember_delivery
from nodes.sources.webhook_payload import PAYLOAD_PARAM

if TYPE_CHECKING:
    from engine.db import Database

__all__ = (
    "MAX_BODY",
    "PAYLOAD_PARAM",
    "RETRY_AFTER_S",
    "generic_hook_path",
    "generic_hook_view",
    "hmac_signature",
    "receive_generic",
)

log = logging.getLogger("koppel.webhooks")

MAX_BODY = 1_000_000
"""Larger bodies are refused (413): a webhook carries an event, not an export."""
RETRY_AFTER_S = 30
TOKEN_HEADER = "x-koppel-token"
SIGNATURE_HEADER = "x-koppel-signature"
DELIVERY_HEADER = "x-koppel-delivery"
TOPIC = "generic"


def generic_hook_path(flow_id: str) -> str:
    """The path a sender posts to."""
    return f"/hooks/generic/{flow_id}"


async def generic_hook_view(db: Database, flow_id: str) -> dict[str, Any]:
    """What the flow page shows a flow that starts with a ``webhook.payload`` source: the address and the secret.

    ``used`` is False (and nothing else is given) when the flow's current version has no such source.
    """
    from engine import store

    flow = await store.get_flow(db, flow_id)
    version = await store.get_version(db, flow_id)
    nodes = version.document.get("nodes") if isinstance(version.document, dict) else None
    used = any(isinstance(n, dict) and n.get("type") == "webhook.payload" for n in nodes or [])
    if not used:
        return {"used": False}
    base = get_settings().base_url.rstrip("/")
    return {"used": True, "url": base + generic_hook_path(flow_id), "secret": flow_secret(flow)}


def hmac_signature(body: bytes, secret: str) -> str:
    """The ``X-Koppel-Signature`` of ``body``: ``sha256=`` and the hex HMAC-SHA256 with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _proven(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    if not secret:
        return False
    token = headers.get(TOKEN_HEADER, "")
    if token:
        return hmac.compare_digest(token.strip().encode(), secret.encode())
    signature = headers.get(SIGNATURE_HEADER, "").strip().lower()
    if signature:
        expected = hmac_signature(body, secret).removeprefix("sha256=")
        return hmac.compare_digest(signature.removeprefix("sha256=").encode(), expected.encode())
    return False


async def receive_generic(
    db: Database, flow_id: str, headers: Mapping[str, str], body: bytes, *, client: str = ""
) -> tuple[HookAnswer, dict[str, str]]:
    """Verify, de-duplicate and run one delivery: the answer to give and extra response headers."""
    from engine import store
    from engine.queue import enqueue_run

    lower = {k.lower(): v for k, v in headers.items()}
    async with db.session() as session:
        flow = await session.get(Flow, flow_id)
    if flow is None:
        log.warning("generic webhook for unknown flow %s from %s rejected", flow_id[:40], client)
        return HookAnswer(404, {"error": "no such flow"}), {}
    if not _proven(lower, body, flow_secret(flow)):
        log.warning("generic webhook for flow %s from %s rejected: missing or wrong secret", flow_id, client)
        return HookAnswer(401, {"error": "missing or wrong X-Koppel-Token or X-Koppel-Signature"}), {}
    if len(body) > MAX_BODY:
        return HookAnswer(413, {"error": f"the body is larger than {MAX_BODY} bytes"}), {}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return HookAnswer(400, {"error": "the body is not JSON"}), {}
    status = "queued" if flow.active else "ignored"
    delivery = WebhookDelivery(
        flow_id=flow_id,
        delivery_id=delivery_key(lower.get(DELIVERY_HEADER)),
        topic=TOPIC,
        status=status,
        body_hash=body_hash(TOPIC, body),
    )
    if not await remember_delivery(db, delivery, "generic webhook"):
        return HookAnswer(409, {"error": "this delivery was received before"}), {}
    delivery_id = delivery.delivery_id
    if status == "ignored":
        return HookAnswer(200, {"status": "ignored", "reason": "the flow is not active"}), {}
    try:
        run = await store.start_flow_run(
            db, flow_id, trigger="webhook", params={PAYLOAD_PARAM: [payload]}, enqueue=False
        )
        await enqueue_run(run.id)
    except Exception as exc:  # busy or not startable: forget the delivery so the sender's retry is accepted
        busy = isinstance(exc, store.FlowBusy)
        if not busy:
            log.exception("generic webhook for flow %s could not start a run", flow_id)
        async with db.session() as session, session.begin():
            await session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.flow_id == flow_id, WebhookDelivery.delivery_id == delivery_id
                )
            )
        reason = "the flow is busy" if busy else "the run could not be started"
        return (
            HookAnswer(503, {"error": f"{reason}; send it again later"}),
            {"Retry-After": str(RETRY_AFTER_S)},
        )
    async with db.session() as session, session.begin():
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.flow_id == flow_id, WebhookDelivery.delivery_id == delivery_id)
            .values(run_id=run.id)
        )
    return HookAnswer(200, {"status": "queued", "run_id": run.id}), {}
