"""The generic HTTP API connector: a base URL and one kind of authentication, for the HTTP request nodes."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError

from nodes.connectors.base import AppConnector, ConnectionRef, Credentials, TokenStore
from nodes.connectors.httpapi.client import ApiKeyHeader, ApiKeyQuery, ClientCredentials, HttpApiClient

__all__ = ("CONNECTOR", "HttpApiConnection", "HttpApiConnector", "HttpApiCredentials")

AuthKind = Literal["none", "basic", "bearer", "api_key_header", "api_key_query", "oauth2"]

_NEEDS: dict[str, tuple[str, ...]] = {
    "basic": ("username", "password"),
    "bearer": ("token",),
    "api_key_header": ("token", "key_name"),
    "api_key_query": ("token", "key_name"),
    "oauth2": ("token_url", "client_id", "client_secret"),
}


class HttpApiCredentials(Credentials):
    """Where the API is and how Koppel signs in to it."""

    url: str = Field(
        title="Base URL",
        description="The API's address; request paths are relative to it, e.g. https://api.example.com/v1",
        json_schema_extra={"kind": "url"},
    )
    auth: AuthKind = Field(
        "none",
        title="Authentication",
        description="none, basic, bearer, api_key_header, api_key_query or oauth2 (client credentials)",
    )
    username: str | None = Field(None, title="User name", description="For basic authentication")
    password: SecretStr | None = Field(None, title="Password", description="For basic authentication")
    token: SecretStr | None = Field(
        None, title="Token or API key", description="For bearer and the API-key kinds of authentication"
    )
    key_name: str | None = Field(
        None,
        title="API key name",
        description="The header (e.g. X-API-Key) or query parameter (e.g. api_key) that carries the API key",
    )
    token_url: str | None = Field(
        None,
        title="Token URL",
        description="For oauth2: where Koppel asks for a token with its client id and secret",
        json_schema_extra={"kind": "url"},
    )
    client_id: str | None = Field(None, title="Client id", description="For oauth2")
    client_secret: SecretStr | None = Field(None, title="Client secret", description="For oauth2")
    scope: str | None = Field(None, title="Scope", description="For oauth2, when the API asks for one")
    test_path: str | None = Field(
        None, title="Test path", description="What the connection test reads, e.g. status (empty: the base URL)"
    )

    @model_validator(mode="after")
    def _complete(self) -> HttpApiCredentials:
        missing = [name for name in _NEEDS.get(self.auth, ()) if not self.secret(name)]
        if missing:
            labels = ", ".join(type(self).model_fields[name].title or name for name in missing)
            raise PydanticCustomError(
                "auth_fields",
                "{auth} authentication needs: {labels}",
                {
                    "auth": self.auth,
                    "labels": labels,
                },
            )
        return self


class HttpApiConnection(ConnectionRef[HttpApiClient]):
    """The name of a generic HTTP API connection (a node's config field)."""

    app = "httpapi"
    field_title = "HTTP API connection"


class HttpApiConnector(AppConnector[HttpApiCredentials, HttpApiClient]):
    """Any JSON API over HTTPS."""

    app = "httpapi"
    label = "HTTP API"
    position = 90
    add_title = "Add an HTTP API connection"
    client_type = HttpApiClient
    description = "Any JSON API: a base URL and no, basic, bearer, API-key or OAuth2 client-credentials sign-in."
    credentials = HttpApiCredentials

    def auth(self, credentials: HttpApiCredentials) -> httpx.Auth:
        kind = credentials.auth
        if kind == "basic":
            return httpx.BasicAuth(credentials.username or "", credentials.secret("password"))
        if kind == "bearer":
            return ApiKeyHeader("Authorization", f"Bearer {credentials.secret('token')}")
        if kind == "api_key_header":
            return ApiKeyHeader(credentials.key_name or "", credentials.secret("token"))
        if kind == "api_key_query":
            return ApiKeyQuery(credentials.key_name or "", credentials.secret("token"))
        if kind == "oauth2":
            return ClientCredentials(
                credentials.token_url or "",
                credentials.client_id or "",
                credentials.secret("client_secret"),
                credentials.scope or "",
            )
        return httpx.Auth()  # no sign-in: the request goes as it is

    def build(
        self, credentials: HttpApiCredentials, *, token_store: TokenStore | None = None, **opts: Any
    ) -> HttpApiClient:
        secrets = [credentials.secret(name) for name in ("password", "token", "client_secret")]
        opts.setdefault("auth", self.auth(credentials))
        return HttpApiClient(
            credentials.url,
            test_path=credentials.test_path or "",
            secrets=[*secrets, *opts.pop("secrets", ())],
            **opts,
        )


CONNECTOR = HttpApiConnector()
