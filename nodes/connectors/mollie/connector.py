"""The Mollie connector: credentials (address and API key), bearer auth, the client and an honest test.

Koppel only reads Mollie (payments, refunds, chargebacks, settlements); Mollie offers the canvas no option lists.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from nodes.connectors.base import AppConnector, ConnectionRef, Credentials, TokenStore
from nodes.connectors.mollie.client import API_URL, KEY_PREFIXES, BearerKey, MollieClient

__all__ = ("CONNECTOR", "MollieConnection", "MollieConnector", "MollieCredentials")


class MollieCredentials(Credentials):
    """A Mollie API key (or organization access token) and the API's address."""

    url: str = Field(
        API_URL,
        title="API address",
        description="https://api.mollie.com (the sandbox: its /mollie).",
        json_schema_extra={"kind": "url"},
    )
    api_key: SecretStr = Field(
        title="API key",
        description="Mollie dashboard → Developers → API keys (test_… or live_…); settlements need an organization "
        "access token (access_…).",
    )

    @field_validator("api_key", mode="after")
    @classmethod
    def _mollie_key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(KEY_PREFIXES):
            raise PydanticCustomError(
                "key_prefix", "must start with test_ or live_ (an organization access token with access_)"
            )
        return value


class MollieConnection(ConnectionRef[MollieClient]):
    """The name of a Mollie connection (a node's config field)."""

    app = "mollie"
    field_title = "Mollie connection"


class MollieConnector(AppConnector[MollieCredentials, MollieClient]):
    """A Mollie account."""

    app = "mollie"
    label = "Mollie"
    position = 30
    add_title = "Add a Mollie account"
    connect_title = "Connect your Mollie account"
    client_type = MollieClient
    description = "A Mollie account (payments, refunds, chargebacks, settlements), through the API v2 with a key."
    credentials = MollieCredentials

    def auth(self, credentials: MollieCredentials) -> httpx.Auth:
        return BearerKey(credentials.secret("api_key"))

    def build(
        self, credentials: MollieCredentials, *, token_store: TokenStore | None = None, **opts: Any
    ) -> MollieClient:
        return MollieClient(credentials.url, credentials.secret("api_key"), auth=self.auth(credentials), **opts)


CONNECTOR = MollieConnector()
