"""Webhooks of a flow: registering them at the application, and receiving WooCommerce's deliveries.

Registration goes through the webhook hooks of the connector of each connection the flow's sources use
(:class:`~nodes.connectors.base.WebhookHooks`: which topics bring a source's records, register, unregister, status):
one webhook per topic (``woocommerce.orders`` → ``order.created`` + ``order.updated``, ...), delivery URL
``KOPPEL_BASE_URL + /hooks/woocommerce/{flow_id}``, secret = the flow's webhook secret.

Receiving (:func:`receive_delivery`, served by :mod:`web.hooks`): WooCommerce's ping (form body ``webhook_id=N``,
no signature) → 200; a missing or wrong ``X-WC-Webhook-Signature`` (base64 HMAC-SHA256 of the raw body, compared
in constant time) → 401, logged, nothing stored; a delivery id seen before, or the same topic and body within
:func:`replay_window_s`, → 409 (a replay); otherwise the delivery
is stored and its record is run at once, or — when the flow is busy — by the scheduler's next tick: none is lost.
WooCommerce never retries a delivery, so the flow's catch-up run (see :mod:`engine.schedules`) picks up whatever a
lost one missed; the idempotency map keeps every record from being booked twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from engine.connections import client_for, connection_specs, node_connection
from engine.crypto import get_box
from engine.models import Flow, WebhookDelivery, utcnow
from engine.settings import get_settings
from nodes.connectors.registry import connectors
from nodes.texts import shown

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.db import Database
    from nodes.connectors.base import WebhookHooks

__all__ = (
    "TOPICS_BY_SOURCE",
    "HookAnswer",
    "body_hash",
    "delivery_key",
    "delivery_url",
    "flow_secret",
    "flow_topics",
    "hook_client",
    "receive_delivery",
    "register_webhooks",
    "remember_delivery",
    "sign",
    "unregister_webhooks",
    "webhook_status",
)

log = logging.getLogger("koppel.webhooks")

TOPICS_BY_SOURCE: dict[str, tuple[str, ...]] = {
    source: topics
    for connector in connectors().values()
    if connector.webhooks is not None
    for source, topics in connector.webhooks.topics_by_source.items()
}
"""Source node type → the webhook topics that bring its records (from every connector with webhook hooks)."""
SOURCE_PREFIX = {"order": "order", "customer": "customer", "product": "product"}


def sign(body: bytes, secret: str) -> str:
    """WooCommerce's signature: base64(HMAC-SHA256(raw body, secret))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def flow_secret(flow: Flow) -> str:
    """The flow's webhook secret (stored sealed)."""
    return str(get_box().open(flow.webhook_secret).get("secret", "")) if flow.webhook_secret else ""


def replay_window_s() -> float:
    """How long an identical signed body counts as a replay (``KOPPEL_WEBHOOK_REPLAY_WINDOW_S``, default 24 h)."""
    return get_settings().webhook_replay_window_s


def delivery_url(flow_id: str, base_url: str | None = None) -> str:
    base = (base_url or get_settings().base_url).rstrip("/")
    return f"{base}/hooks/woocommerce/{flow_id}"


# ---- receiving ---------------------------------------------------------------------------------------------------


@dataclass
class HookAnswer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def body_hash(topic: str, body: bytes) -> str:
    """What a replay of a delivery is recognised by: SHA-256 of its topic and its signed body."""
    return hashlib.sha256(topic.encode() + b"\n" + body).hexdigest()


def delivery_key(header: str | None) -> str:
    """The stored id of a delivery: the sender's delivery id, refused when it comes again; without one, an id of this
    arrival only (then the body hash within the replay window is what recognises a replay)."""
    return (header or "").strip()[:100] or f"arrival:{uuid.uuid4().hex}"


async def remember_delivery(db: Database, delivery: WebhookDelivery, kind: str) -> bool:
    """Store a verified delivery; False (logged, with ``kind`` naming the hook) when it is a replay: its delivery id
    was received before, or the same topic and body within :func:`replay_window_s`.

    The unique (flow, body hash) index makes the decision atomic; older twins give their hash up first, so an
    identical delivery after the window is accepted.
    """
    try:
        async with db.session() as session, session.begin():
            cutoff = utcnow() - timedelta(seconds=replay_window_s())
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.flow_id == delivery.flow_id,
                    WebhookDelivery.body_hash == delivery.body_hash,
                    WebhookDelivery.received_at < cutoff,
                )
                .values(body_hash=None)
            )
            session.add(delivery)
    except IntegrityError:
        log.warning(
            "%s for flow %s rejected: delivery %s or its body was received before (replay)",
            kind,
            delivery.flow_id,
            delivery.delivery_id,
        )
        return False
    return True


def _is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    if any(k.lower().startswith("x-wc-webhook-") for k in headers):
        return False
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return False
    ids = form.get("webhook_id", [])
    return len(form) == 1 and len(ids) == 1 and ids[0].isdigit()


def _source_id(resource: str, event: str, payload: Any) -> str:
    """The record a delivery is about (``order:123``), or "" when there is nothing to run."""
    if event in ("deleted", "restored") or not isinstance(payload, dict) or resource not in SOURCE_PREFIX:
        return ""
    record_id = payload.get("id")
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        return ""
    if resource == "product" and payload.get("type") == "variation":
        return f"variation:{record_id}"
    return f"{SOURCE_PREFIX[resource]}:{record_id}"


async def receive_delivery(
    db: Database, flow_id: str, headers: Mapping[str, str], body: bytes, *, client: str = ""
) -> HookAnswer:
    """Verify, de-duplicate, store and dispatch one delivery; the answer to give WooCommerce."""
    lower = {k.lower(): v for k, v in headers.items()}
    async with db.session() as session:
        flow = await session.get(Flow, flow_id)
    if flow is None:
        log.warning("webhook for unknown flow %s from %s rejected", flow_id[:40], client)
        return HookAnswer(404, {"error": "no such flow"})
    signature = lower.get("x-wc-webhook-signature", "")
    if not signature:
        if _is_ping(lower, body):
            log.info("webhook ping for flow %s answered", flow_id)
            return HookAnswer(200, {"status": "ok", "ping": True})
        log.warning("webhook for flow %s from %s rejected: no signature", flow_id, client)
        return HookAnswer(401, {"error": "missing X-WC-Webhook-Signature"})
    secret = flow_secret(flow)
    if not secret or not hmac.compare_digest(sign(body, secret).encode(), signature.strip().encode()):
        log.warning("webhook for flow %s from %s rejected: wrong signature", flow_id, client)
        return HookAnswer(401, {"error": "invalid X-WC-Webhook-Signature"})
    topic = lower.get("x-wc-webhook-topic", "")
    resource = lower.get("x-wc-webhook-resource") or topic.partition(".")[0]
    event = lower.get("x-wc-webhook-event") or topic.partition(".")[2]
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return HookAnswer(400, {"error": "the body is not JSON"})
    source_id = _source_id(resource, event, payload)
    status = "pending" if (source_id and flow.active) else "ignored"
    delivery = WebhookDelivery(
        flow_id=flow_id,
        delivery_id=delivery_key(lower.get("x-wc-webhook-delivery-id")),
        topic=topic[:60],
        source_id=source_id,
        status=status,
        body_hash=body_hash(topic, body),
    )
    if not await remember_delivery(db, delivery, "webhook"):
        return HookAnswer(409, {"error": "this delivery was received before"})
    if status == "ignored":
        reason = "the flow is not active" if source_id else f"nothing to run for {topic or 'this topic'}"
        return HookAnswer(200, {"status": "ignored", "reason": reason})
    run_ids: list[str] = []
    try:
        from engine.schedules import dispatch_webhooks

        run_ids = await dispatch_webhooks(db, flow_id=flow_id)
    except Exception:  # stored: the scheduler tick dispatches it
        log.exception("webhook delivery for flow %s stored but not dispatched yet", flow_id)
    return HookAnswer(200, {"status": "queued", "record": source_id, "run_id": run_ids[0] if run_ids else None})


# ---- registration ------------------------------------------------------------------------------------------------


def flow_topics(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(connection name, topic) pairs the flow's sources that webhooks can announce need."""
    pairs: list[tuple[str, str]] = []
    for node in document.get("nodes", []):
        topics = TOPICS_BY_SOURCE.get(str(node.get("type")), ())
        connection = (node_connection(node) or ("", ""))[0]
        for topic in topics:
            if (connection, topic) not in pairs:
                pairs.append((connection, topic))
    return pairs


async def hook_client(db: Database, name: str) -> tuple[Any, WebhookHooks]:
    """A client for the stored connection ``name`` (close it with ``aclose``) and its application's webhook hooks.

    Raises:
        LookupError: no such connection, or its application sends no webhooks.
    """
    spec = (await connection_specs(db)).get(name)
    connector = connectors().get(str(spec.get("app"))) if spec else None
    if spec is None or connector is None or connector.webhooks is None:
        raise LookupError(f"no connection named {shown(name)} whose application sends webhooks")
    return client_for(db, name, spec), connector.webhooks


async def _save_state(db: Database, flow_id: str, state: dict[str, Any] | None) -> None:
    async with db.session() as session, session.begin():
        flow = await session.get(Flow, flow_id)
        if flow is None:
            return
        settings = {k: v for k, v in (flow.settings or {}).items() if k != "webhook"}
        if state is not None:
            settings["webhook"] = state
        flow.settings = settings


async def register_webhooks(db: Database, flow_id: str, *, base_url: str | None = None) -> dict[str, Any]:
    """Create (or re-activate with the current secret) the flow's webhooks on its store; returns the state.

    Raises:
        LookupError: unknown flow, or the flow has no source a webhook announces, or no connection for it.
        nodes.connectors.http.ApiError: the store refused.
    """
    from engine import store

    flow = await store.get_flow(db, flow_id)
    version = await store.get_version(db, flow_id)
    pairs = flow_topics(version.document)
    if not pairs:
        raise LookupError("the flow has no source a webhook could announce")
    url = delivery_url(flow_id, base_url)
    secret = flow_secret(flow)
    from nodes.connectors.http import is_loopback

    hooks: list[dict[str, Any]] = []
    clients: dict[str, tuple[Any, WebhookHooks]] = {}
    try:
        for connection, topic in pairs:
            client, hook_api = clients.get(connection) or await hook_client(db, connection)
            clients[connection] = (client, hook_api)
            if is_loopback(url) and not is_loopback(hook_api.address(client)):
                raise LookupError(
                    f"{hook_api.address(client)} cannot reach {url}: set KOPPEL_BASE_URL to the address where the "
                    "application reaches Koppel"
                )
            hook = await hook_api.register(
                client, url=url, topic=topic, secret=secret, name=f"Koppel: {flow.name} ({topic})"
            )
            hooks.append({**hook, "topic": topic, "connection": connection})
    finally:
        for client, _hooks in clients.values():
            await client.aclose()
    state = {"delivery_url": url, "hooks": hooks, "registered_at": utcnow().isoformat()}
    await _save_state(db, flow_id, state)
    return state


async def unregister_webhooks(db: Database, flow_id: str) -> dict[str, Any]:
    """Delete the flow's webhooks from its store (those already gone are fine)."""
    from engine import store

    flow = await store.get_flow(db, flow_id)
    state = (flow.settings or {}).get("webhook") or {}
    removed = []
    for hook in state.get("hooks", []):
        client, hook_api = await hook_client(db, str(hook.get("connection") or ""))
        try:
            await hook_api.unregister(client, hook["id"])
        finally:
            await client.aclose()
        removed.append(hook.get("id"))
    await _save_state(db, flow_id, None)
    return {"removed": removed}


async def webhook_status(db: Database, flow_id: str, *, live: bool = False) -> dict[str, Any]:
    """What the flow page shows: registration, the store's view of each hook (``live``), recent deliveries."""
    from engine import store

    flow = await store.get_flow(db, flow_id)
    state = dict((flow.settings or {}).get("webhook") or {})
    if live:
        for hook in state.get("hooks", []):
            try:
                client, hook_api = await hook_client(db, str(hook.get("connection") or ""))
                try:
                    hook["status"] = await hook_api.status(client, hook["id"])
                finally:
                    await client.aclose()
            except Exception as exc:
                hook["status"] = f"unknown ({type(exc).__name__})"
    async with db.session() as session:
        counts = dict(
            (
                await session.execute(
                    select(WebhookDelivery.status, func.count(WebhookDelivery.id))
                    .where(WebhookDelivery.flow_id == flow_id)
                    .group_by(WebhookDelivery.status)
                )
            ).all()
        )
        last = (
            await session.execute(
                select(func.max(WebhookDelivery.received_at)).where(WebhookDelivery.flow_id == flow_id)
            )
        ).scalar()
    return {
        "registered": bool(state.get("hooks")),
        "delivery_url": state.get("delivery_url") or delivery_url(flow_id),
        "hooks": state.get("hooks", []),
        "registered_at": state.get("registered_at"),
        "deliveries": {k: int(v) for k, v in counts.items()},
        "last_delivery_at": last.isoformat() if last else None,
    }
