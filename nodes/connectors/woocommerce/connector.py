"""The WooCommerce connector: credentials, key + secret auth, the client, option lists, test and webhooks."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from nodes.connectors.base import AppConnector, ConnectionRef, Credentials, TokenStore
from nodes.connectors.http import NotFound
from nodes.connectors.woocommerce.client import WooCommerceClient

__all__ = ("CONNECTOR", "WooCommerceConnection", "WooCommerceConnector", "WooCommerceCredentials")


class WooCommerceCredentials(Credentials):
    """A WooCommerce REST API key pair."""

    url: str = Field(
        title="Store address",
        description="The shop's address, e.g. https://shop.example.nl.",
        json_schema_extra={"kind": "url"},
    )
    consumer_key: str = Field(
        title="Consumer key",
        description="WooCommerce → Settings → Advanced → REST API → Add key (ck_...). "
        "Read/Write lets Koppel update orders and stock.",
    )
    consumer_secret: SecretStr = Field(title="Consumer secret", description="Shown once when the key is made (cs_...).")


class WooCommerceConnection(ConnectionRef[WooCommerceClient]):
    """The name of a WooCommerce connection (a node's config field)."""

    app = "woocommerce"
    field_title = "WooCommerce connection"


@dataclass(frozen=True)
class WooCommerceWebhooks:
    """WooCommerce delivers webhooks per topic; these bring the records of Koppel's WooCommerce sources."""

    topics_by_source: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "woocommerce.orders": ("order.created", "order.updated"),
            "woocommerce.customers": ("customer.created", "customer.updated"),
            "woocommerce.products": ("product.created", "product.updated"),
        }
    )

    def address(self, client: Any) -> str:
        return str(CONNECTOR.own(client).store_url)

    async def register(self, client: Any, *, url: str, topic: str, secret: str, name: str) -> dict[str, Any]:
        store = CONNECTOR.own(client)
        existing = await store.get("/webhooks", {"per_page": 100})
        found = next((h for h in existing or [] if h.get("delivery_url") == url and h.get("topic") == topic), None)
        body = {"secret": secret, "status": "active", "delivery_url": url, "topic": topic}
        if found is not None:
            hook = await store.put(f"/webhooks/{found['id']}", body)
        else:
            hook = await store.post("/webhooks", {"name": name[:190], **body})
        return {"id": hook.get("id"), "status": hook.get("status")}

    async def unregister(self, client: Any, hook_id: Any) -> None:
        with contextlib.suppress(NotFound):
            await CONNECTOR.own(client).delete(f"/webhooks/{hook_id}", {"force": True})

    async def status(self, client: Any, hook_id: Any) -> str:
        return str((await CONNECTOR.own(client).get(f"/webhooks/{hook_id}")).get("status"))


class WooCommerceConnector(AppConnector[WooCommerceCredentials, WooCommerceClient]):
    """A WooCommerce web shop."""

    app = "woocommerce"
    label = "WooCommerce"
    position = 10
    add_title = "Add a WooCommerce store"
    short = "woo"
    connect_title = "Connect your WooCommerce store"
    client_type = WooCommerceClient
    description = "A WooCommerce web shop, through its REST API (wc/v3) with a consumer key and secret."
    credentials = WooCommerceCredentials
    option_lists: ClassVar[Mapping[str, str]] = {
        "order_statuses": "order statuses",
        "payment_gateways": "payment methods",
        "shipping_methods": "shipping methods",
        "tax_classes": "tax classes",
        "countries": "countries",
    }

    def __init__(self) -> None:
        self.webhooks = WooCommerceWebhooks()

    def auth(self, credentials: WooCommerceCredentials) -> httpx.Auth:
        return httpx.BasicAuth(credentials.consumer_key, credentials.secret("consumer_secret"))

    def build(
        self, credentials: WooCommerceCredentials, *, token_store: TokenStore | None = None, **opts: Any
    ) -> WooCommerceClient:
        return WooCommerceClient(
            credentials.url,
            credentials.consumer_key,
            credentials.secret("consumer_secret"),
            auth=self.auth(credentials),
            **opts,
        )


CONNECTOR = WooCommerceConnector()
