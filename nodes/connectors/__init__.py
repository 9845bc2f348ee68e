"""Connectors: one client per application, built from a connection (an object of the connections file).

``make_client("woocommerce", spec)`` gives a :class:`WooCommerceClient`, ``make_client("asperion", spec,
token_store)`` an :class:`AsperionClient`. :data:`APPS` describes each application's fields (for forms and
validation; secret fields are write-only everywhere) and :func:`validate_spec` checks a connection before use.
:func:`list_options` answers the canvas's live option lists (``asperion.vatcodes``, ``woocommerce.countries``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nodes.connectors.asperion import AsperionClient, MemoryTokenStore, TokenStore
from nodes.connectors.http import (
    ApiClient,
    ApiError,
    AuthError,
    ConnectionTest,
    NotFound,
    Option,
    RateLimited,
    RetryPolicy,
    ServerError,
    Unreachable,
    ValidationFailed,
    is_loopback,
    redact,
)
from nodes.connectors.woocommerce import WooCommerceClient

__all__ = (
    "APPS",
    "ApiClient",
    "ApiError",
    "AppInfo",
    "AsperionClient",
    "AuthError",
    "ConnectionTest",
    "FieldInfo",
    "MemoryTokenStore",
    "NotFound",
    "Option",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "TokenStore",
    "Unreachable",
    "ValidationFailed",
    "WooCommerceClient",
    "list_options",
    "make_client",
    "redact",
    "secret_fields",
    "validate_spec",
)

_CLIENT_OPTIONS = ("concurrency", "timeout", "connect_timeout")
"""Optional tuning keys a connection may carry besides its fields."""


@dataclass(frozen=True)
class FieldInfo:
    """One field of a connection form."""

    name: str
    label: str
    secret: bool = False
    """Write-only: never shown, returned or logged."""
    required: bool = True
    help: str = ""
    kind: str = "string"
    """``string``, ``url`` or ``integer``."""


@dataclass(frozen=True)
class AppInfo:
    """An application Koppel connects to."""

    name: str
    label: str
    description: str
    fields: tuple[FieldInfo, ...]

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.secret)


APPS: dict[str, AppInfo] = {
    "woocommerce": AppInfo(
        name="woocommerce",
        label="WooCommerce",
        description="A WooCommerce web shop, through its REST API (wc/v3) with a consumer key and secret.",
        fields=(
            FieldInfo("url", "Store address", kind="url", help="The shop's address, e.g. https://shop.example.nl."),
            FieldInfo(
                "consumer_key",
                "Consumer key",
                help="WooCommerce → Settings → Advanced → REST API → Add key (ck_...). "
                "Read/Write lets Koppel update orders and stock.",
            ),
            FieldInfo(
                "consumer_secret", "Consumer secret", secret=True, help="Shown once when the key is made (cs_...)."
            ),
        ),
    ),
    "asperion": AppInfo(
        name="asperion",
        label="Asperion",
        description="An Asperion administration, through the Asperion API (OAuth 2 with a refresh token).",
        fields=(
            FieldInfo(
                "url",
                "API address",
                kind="url",
                help="https://api.asperion.nl (sandbox: https://api-sandbox.asperion.nl).",
            ),
            FieldInfo(
                "identity_url",
                "Identity address",
                kind="url",
                help="https://identity.asperion.nl (sandbox: https://identity-sandbox.asperion.nl).",
            ),
            FieldInfo("client_id", "Client id", help="The partner client id from Asperion's API support."),
            FieldInfo("client_secret", "Client secret", secret=True),
            FieldInfo(
                "refresh_token",
                "Refresh token",
                secret=True,
                required=False,
                help="Filled in by 'Connect with Asperion' after you approve Koppel (or paste one you were given); "
                "Koppel keeps the newest one, as Asperion rotates it.",
            ),
            FieldInfo(
                "tenant_id",
                "Administration (tenant) id",
                required=False,
                kind="integer",
                help="The administration's number; empty = the user's default administration.",
            ),
        ),
    ),
}


def secret_fields(app: str) -> tuple[str, ...]:
    """The names of the write-only fields of ``app`` (empty for an unknown app)."""
    info = APPS.get(app)
    return info.secret_fields if info else ()


def validate_spec(app: str, spec: Mapping[str, Any]) -> list[str]:
    """Problems with a connection object, as readable sentences (empty when it is usable).

    Args:
        app: the application (``woocommerce`` / ``asperion``).
        spec: the connection object (its ``app`` key, when present, must agree).
    """
    info = APPS.get(app)
    if info is None:
        return [f"unknown application {app!r} (known: {', '.join(sorted(APPS))})"]
    errors: list[str] = []
    if spec.get("app") not in (None, app):
        errors.append(f"app is {spec.get('app')!r}, expected {app!r}")
    known = {f.name for f in info.fields} | {"app", "name", *_CLIENT_OPTIONS}
    for key in spec:
        if key not in known and not str(key).startswith("_"):  # "_id" and the like: Koppel's own bookkeeping
            errors.append(f"unknown field {key!r} for {info.label}")
    for fld in info.fields:
        value = spec.get(fld.name)
        if value in (None, ""):
            if fld.required:
                errors.append(f"{fld.label} ({fld.name}) is required")
            continue
        if fld.kind == "url":
            text = str(value)
            if not text.startswith(("https://", "http://")):
                errors.append(f"{fld.label} ({fld.name}) must start with https://")
            elif text.startswith("http://") and not is_loopback(text):
                errors.append(f"{fld.label} ({fld.name}) must use https:// (plain http only for this machine)")
        elif fld.kind == "integer":
            # 1.5 or "1.5" must not quietly become 1 (another administration): only whole numbers pass.
            whole = (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, str) and value.strip().isdigit()
            )
            if not whole:
                errors.append(f"{fld.label} ({fld.name}) must be a whole number")
        elif not isinstance(value, str):
            errors.append(f"{fld.label} ({fld.name}) must be text")
    errors.extend(_option_problems(spec))
    return errors


# Client options: (lowest, highest, whole numbers only).
_OPTION_LIMITS: dict[str, tuple[float, float, bool]] = {
    "concurrency": (1, 64, True),
    "timeout": (0.1, 600, False),
    "connect_timeout": (0.1, 600, False),
}


def _option_problems(spec: Mapping[str, Any]) -> list[str]:
    errors = []
    for key in _CLIENT_OPTIONS:
        if key not in spec:
            continue
        value = spec[key]
        low, high, whole = _OPTION_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
            errors.append(f"{key} must be a {'whole ' if whole else ''}number")
        elif not low <= value <= high:
            errors.append(f"{key} must be between {low:g} and {high:g}")
    return errors


def make_client(
    app: str, spec: Mapping[str, Any], token_store: TokenStore | None = None, **opts: Any
) -> WooCommerceClient | AsperionClient:
    """Build the client of a connection.

    Args:
        app: ``woocommerce`` or ``asperion`` (normally ``spec["app"]``).
        spec: the connection object of the connections file.
        token_store: where an Asperion connection keeps its rotated tokens.
        **opts: client options (``transport``, ``retry``, ``sleep``, ...); ``concurrency``/``timeout`` may also come
            from the spec.

    Raises:
        ValueError: the connection is incomplete or invalid (the message lists every problem).
    """
    errors = validate_spec(app, spec)
    if errors:
        raise ValueError(f"{APPS[app].label if app in APPS else app} connection: " + "; ".join(errors))
    tuning = {k: spec[k] for k in _CLIENT_OPTIONS if k in spec}
    if app == "woocommerce":
        return WooCommerceClient(spec["url"], spec["consumer_key"], spec["consumer_secret"], **{**tuning, **opts})
    tenant = spec.get("tenant_id")
    return AsperionClient(
        spec["url"],
        spec["identity_url"],
        spec["client_id"],
        spec["client_secret"],
        spec["refresh_token"],
        int(tenant) if tenant not in (None, "") else None,
        token_store,
        **{**tuning, **opts},
    )


async def list_options(client: ApiClient, source: str) -> list[Option]:
    """The choices of a live option list, e.g. ``asperion.vatcodes`` or ``woocommerce.payment_gateways``.

    Raises:
        KeyError: an unknown list, or one of another application than the client's.
        ApiError: the application could not answer.
    """
    app, _, kind = source.partition(".")
    if app == "asperion" and isinstance(client, AsperionClient):
        return await client.options(kind)
    if app == "woocommerce" and isinstance(client, WooCommerceClient):
        return await client.options(kind)
    raise KeyError(f"option list {source!r} does not belong to a {type(client).__name__}")
