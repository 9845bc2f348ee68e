"""The Asperion connector: credentials, bearer auth from rotating tokens, the client, option lists, an honest test,
and the OAuth sign-in ("Connect with Asperion")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from nodes.connectors.asperion.client import AsperionAuth, AsperionClient, authorize_url, exchange_code
from nodes.connectors.base import AppConnector, ConnectionRef, Credentials, TokenStore

__all__ = ("CONNECTOR", "AsperionConnection", "AsperionConnector", "AsperionCredentials", "AsperionOAuth")


class AsperionCredentials(Credentials):
    """An Asperion partner client and the administration's refresh token (absent until the user connects)."""

    url: str = Field(
        title="API address",
        description="https://api.asperion.nl (sandbox: https://api-sandbox.asperion.nl).",
        json_schema_extra={"kind": "url"},
    )
    identity_url: str = Field(
        title="Identity address",
        description="https://identity.asperion.nl (sandbox: https://identity-sandbox.asperion.nl).",
        json_schema_extra={"kind": "url"},
    )
    client_id: str = Field(title="Client id", description="The partner client id from Asperion's API support.")
    client_secret: SecretStr = Field(title="Client secret")
    refresh_token: SecretStr | None = Field(
        None,
        title="Refresh token",
        description="Filled in by 'Connect with Asperion' after you approve Koppel (or paste one you were given); "
        "Koppel keeps the newest one, as Asperion rotates it.",
    )
    tenant_id: int | None = Field(
        None,
        title="Administration (tenant) id",
        description="The administration's number; empty = the user's default administration.",
        json_schema_extra={"kind": "integer"},
    )


class AsperionConnection(ConnectionRef[AsperionClient]):
    """The name of an Asperion connection (a node's config field)."""

    app = "asperion"
    field_title = "Asperion connection"


class AsperionOAuth:
    """Asperion's authorization-code sign-in: the user approves Koppel, Koppel keeps the refresh token."""

    def authorize_url(self, settings: Mapping[str, Any], redirect_uri: str, state: str) -> str:
        return authorize_url(str(settings["identity_url"]), str(settings["client_id"]), redirect_uri, state)

    async def exchange_code(self, spec: Mapping[str, Any], code: str, redirect_uri: str) -> dict[str, Any]:
        return await exchange_code(
            str(spec["identity_url"]), str(spec["client_id"]), str(spec.get("client_secret") or ""), code, redirect_uri
        )

    def missing_for_connect(self, settings: Mapping[str, Any]) -> list[str]:
        labels = AsperionCredentials.model_fields
        return [labels[name].title or name for name in ("identity_url", "client_id") if not settings.get(name)]


class AsperionConnector(AppConnector[AsperionCredentials, AsperionClient]):
    """An Asperion administration."""

    app = "asperion"
    label = "Asperion"
    position = 20
    add_title = "Add an Asperion administration"
    short = "asp"
    connect_title = "Connect your Asperion administration"
    client_type = AsperionClient
    description = "An Asperion administration, through the Asperion API (OAuth 2 with a refresh token)."
    credentials = AsperionCredentials
    option_lists: ClassVar[Mapping[str, str]] = {
        "vatcodes": "VAT codes",
        "ledgeraccounts": "ledger accounts",
        "paymentconditions": "payment conditions",
        "articles": "articles",
        "debtorkinds": "debtor kinds",
        "journals": "journals",
    }

    def __init__(self) -> None:
        self.oauth = AsperionOAuth()

    def auth(self, credentials: AsperionCredentials) -> AsperionAuth:
        """Bearer tokens from the rotating pair; the client built with it binds itself as the token source."""
        return AsperionAuth()

    def build(
        self, credentials: AsperionCredentials, *, token_store: TokenStore | None = None, **opts: Any
    ) -> AsperionClient:
        return AsperionClient(
            credentials.url,
            credentials.identity_url,
            credentials.client_id,
            credentials.secret("client_secret"),
            credentials.secret("refresh_token") or None,
            credentials.tenant_id,
            token_store,
            auth=self.auth(credentials),
            **opts,
        )


CONNECTOR = AsperionConnector()
