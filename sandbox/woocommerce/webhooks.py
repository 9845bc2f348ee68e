"""Webhook delivery as ``WC_Webhook::deliver`` does it, in the background so that a POST is not slowed.

Body = the resource as a GET returns it (``{"id": N}`` for ``*.deleted``), ``X-WC-Webhook-*`` headers and
``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(raw body, secret)). A 2xx/3xx answer resets the failure count;
anything else (or no answer) increments it and after more than 5 consecutive failures the webhook is disabled.
No retries. On creation (and activation) a ping is sent: form body ``webhook_id=N`` without X-WC headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from typing import TYPE_CHECKING

import httpx

from sandbox.http import Request

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("HOOKS", "emit", "ping", "sign")

log = logging.getLogger(__name__)

USER_AGENT = "WooCommerce/9.8.5 Hookshot (WordPress/6.7.2)"
HOOKS: dict[str, list[str]] = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "product.created": [
        "woocommerce_process_product_meta",
        "woocommerce_new_product",
        "woocommerce_new_product_variation",
    ],
    "product.updated": [
        "woocommerce_process_product_meta",
        "woocommerce_update_product",
        "woocommerce_update_product_variation",
    ],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
}


def sign(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(body, secret))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _client(sim: WooSim) -> httpx.AsyncClient:
    if sim._client is None:
        sim._client = httpx.AsyncClient(timeout=sim.webhook_timeout, follow_redirects=False)
    client: httpx.AsyncClient = sim._client
    return client


def emit(sim: WooSim, req: Request, resource: str, event: str, rid: int, body: bytes | None) -> None:
    """Queue deliveries of ``resource.event`` for every active webhook subscribed to it."""
    topic = f"{resource}.{event}"
    targets = [w for w in sim.webhooks.values() if w["status"] == "active" and w["topic"] in (topic, f"{resource}.*")]
    if not targets:
        return
    payload = body if body is not None and event != "deleted" else f'{{"id":{rid}}}'.encode()
    source = req.base_url + "/"
    for hook in targets:
        sim.spawn(_deliver(sim, hook["id"], topic, resource, event, payload, source))


async def _deliver(sim: WooSim, hook_id: int, topic: str, resource: str, event: str, body: bytes, source: str) -> None:
    hook = sim.webhooks.get(hook_id)
    if hook is None:
        return
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign(body, hook.get("secret", "")),
        "X-WC-Webhook-ID": str(hook_id),
        "X-WC-Webhook-Delivery-ID": secrets.token_hex(16),
    }
    ok = False
    try:
        resp = await _client(sim).post(hook["delivery_url"], content=body, headers=headers)
        ok = 200 <= resp.status_code <= 302
    except httpx.HTTPError as exc:
        log.debug("webhook %s delivery failed: %s", hook_id, exc)
    hook = sim.webhooks.get(hook_id)
    if hook is None:
        return
    if sim.on_webhook:
        sim.on_webhook("delivered" if ok else "failed")
    if ok:
        hook["failure_count"] = 0
    else:
        hook["failure_count"] = hook.get("failure_count", 0) + 1
        if hook["failure_count"] > 5:
            hook["status"] = "disabled"


def ping(sim: WooSim, hook_id: int) -> None:
    """Send WooCommerce's ping (``webhook_id=N`` form body, no X-WC headers) in the background."""
    hook = sim.webhooks.get(hook_id)
    if hook is None:
        return
    sim.spawn(_ping(sim, hook["delivery_url"], hook_id))


async def _ping(sim: WooSim, url: str, hook_id: int) -> None:
    try:
        await _client(sim).post(
            url,
            content=f"webhook_id={hook_id}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
        )
        if sim.on_webhook:
            sim.on_webhook("ping")
    except httpx.HTTPError as exc:
        log.debug("webhook %s ping failed: %s", hook_id, exc)
