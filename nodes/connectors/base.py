"""The connector contract: what one application's package exports, and typed references to its connections.

An application Koppel talks to is one package ``nodes/connectors/<app>/`` whose ``CONNECTOR`` implements
:class:`Connector`: a pydantic credentials model (secret fields are :class:`~pydantic.SecretStr`, write-only
everywhere), an :class:`httpx.Auth`, the client factory, the canvas's live option lists, an honest connection
``test()`` (a status and a plain summary, never a remote body), and optional OAuth and webhook hooks. The registry
(:mod:`nodes.connectors.registry`) discovers the packages; nothing names an application in an if/else.

Nodes declare their connection fields as :class:`ConnectionRef` subclasses (``connection: AsperionConnection``):
the flow validator knows from the annotation which application each named connection must belong to, and
``ctx.client(self.config.connection)`` is typed as that application's client.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, cast, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError, core_schema

from nodes.connectors.http import AppClient, ConnectionTest, Option, is_loopback, plain_http_status
from nodes.texts import shown

if TYPE_CHECKING:
    import httpx
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue

__all__ = (
    "TUNING_KEYS",
    "AppConnector",
    "ConnectionRef",
    "Connector",
    "Credentials",
    "FieldInfo",
    "InvalidConnectionSpec",
    "MemoryTokenStore",
    "OAuthHooks",
    "TokenStore",
    "WebhookHooks",
    "plain_http_status",
)

ClientT = TypeVar("ClientT", bound=AppClient)
ClientT_co = TypeVar("ClientT_co", bound=AppClient, covariant=True)
CredT = TypeVar("CredT", bound="Credentials")

TUNING_KEYS = ("concurrency", "timeout", "connect_timeout")
"""Optional tuning keys a connection may carry besides its credentials."""
TUNING_LIMITS: dict[str, tuple[float, float]] = {
    "concurrency": (1, 64),
    "timeout": (0.1, 600),
    "connect_timeout": (0.1, 600),
}
"""The lowest and highest value of each tuning key (seconds for the timeouts)."""


# --- token store ----------------------------------------------------------------------------------------------


class TokenStore(Protocol):
    """Where the newest token pair of a connection is kept (shared by every worker using the connection).

    The dict holds ``access_token``, ``refresh_token`` and ``expires_at`` (epoch seconds). ``save`` must replace the
    stored pair atomically.
    """

    async def load(self) -> dict[str, Any] | None: ...

    async def save(self, tokens: dict[str, Any]) -> None: ...


class MemoryTokenStore:
    """A :class:`TokenStore` in memory (tests, one-off runs)."""

    def __init__(self, tokens: dict[str, Any] | None = None) -> None:
        self.tokens = dict(tokens) if tokens else None
        self.saves = 0

    async def load(self) -> dict[str, Any] | None:
        return dict(self.tokens) if self.tokens else None

    async def save(self, tokens: dict[str, Any]) -> None:
        self.tokens = dict(tokens)
        self.saves += 1


# --- credentials ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldInfo:
    """One field of a connection form, derived from the credentials model."""

    name: str
    label: str
    secret: bool = False
    """Write-only: never shown, returned or logged."""
    required: bool = True
    help: str = ""
    kind: str = "string"
    """``string``, ``url`` or ``integer``."""


class InvalidConnectionSpec(ValueError):
    """A connection object cannot be used; ``problems`` are readable sentences (never a secret value)."""

    def __init__(self, label: str, problems: list[str]) -> None:
        super().__init__(f"{label} connection: " + "; ".join(problems))
        self.problems = problems


class Credentials(BaseModel):
    """Base of a connector's credentials model.

    Secret fields are typed :class:`~pydantic.SecretStr`; a field whose ``json_schema_extra`` says
    ``{"kind": "url"}`` must be an https:// address (plain http only for this machine). The ``title`` of a field is
    its form label and its ``description`` the help text.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _https_only(cls, value: Any, info: Any) -> Any:
        extra = cls.model_fields[info.field_name].json_schema_extra if info.field_name else None
        if isinstance(extra, dict) and extra.get("kind") == "url" and isinstance(value, str):
            if not value.startswith(("https://", "http://")):
                raise PydanticCustomError("url_scheme", "must start with https://")
            if value.startswith("http://") and not is_loopback(value):
                raise PydanticCustomError("url_scheme", "must use https:// (plain http only for this machine)")
        return value

    def secret(self, name: str) -> str:
        """The plain value of a secret field ("" when unset)."""
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value or "")

    @classmethod
    def form_fields(cls) -> tuple[FieldInfo, ...]:
        """The form's fields, in declaration order."""
        out = []
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            annotation = str(info.annotation)
            kind = str(extra.get("kind") or ("integer" if "int" in annotation else "string"))
            out.append(
                FieldInfo(
                    name=name,
                    label=info.title or name,
                    secret="SecretStr" in annotation,
                    required=info.is_required(),
                    help=info.description or "",
                    kind=kind,
                )
            )
        return tuple(out)


_PROBLEM_TEXT = {
    "missing": "is required",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
}


def _problems(label: str, model: type[Credentials], error: ValidationError) -> list[str]:
    fields = {f.name: f for f in model.form_fields()}
    out = []
    for item in error.errors(include_url=False, include_input=False):
        name = str(item["loc"][0]) if item["loc"] else ""
        if item["type"] == "extra_forbidden":
            out.append(f"unknown field {shown(name)} for {label}")
            continue
        field = fields.get(name)
        text = _PROBLEM_TEXT.get(item["type"], str(item["msg"]))
        out.append(f"{field.label} ({name}) {text}" if field else f"{name}: {text}")
    return out


# --- hooks ----------------------------------------------------------------------------------------------------


@runtime_checkable
class OAuthHooks(Protocol):
    """A connector whose connection is completed by the user approving Koppel at the application."""

    def authorize_url(self, settings: Mapping[str, Any], redirect_uri: str, state: str) -> str:
        """Where to send the browser."""
        ...

    async def exchange_code(self, spec: Mapping[str, Any], code: str, redirect_uri: str) -> dict[str, Any]:
        """Redeem the code: ``{access_token, refresh_token, expires_at}``."""
        ...

    def missing_for_connect(self, settings: Mapping[str, Any]) -> list[str]:
        """The saved fields the sign-in needs that are still empty (labels)."""
        ...


@runtime_checkable
class WebhookHooks(Protocol):
    """A connector that can register webhooks at the application for a flow's sources."""

    @property
    def topics_by_source(self) -> Mapping[str, tuple[str, ...]]:
        """Node type → the application's webhook topics that bring its records."""
        ...

    def address(self, client: Any) -> str:
        """Where the application is (an application elsewhere cannot deliver to a Koppel on this machine)."""
        ...

    async def register(self, client: Any, *, url: str, topic: str, secret: str, name: str) -> dict[str, Any]:
        """Create the webhook of ``topic`` delivering to ``url`` signed with ``secret``, or re-activate the one there
        is: ``{"id": ..., "status": ...}``."""
        ...

    async def unregister(self, client: Any, hook_id: Any) -> None:
        """Delete a webhook (one already gone is fine)."""
        ...

    async def status(self, client: Any, hook_id: Any) -> str:
        """The application's status of a webhook ("active", "paused", ...)."""
        ...


# --- the contract ---------------------------------------------------------------------------------------------


@runtime_checkable
class Connector(Protocol[ClientT_co]):
    """What an application's package exports as ``CONNECTOR``."""

    app: str
    """Stable name used in connections files and stored connections (``woocommerce``)."""
    label: str
    description: str
    credentials: type[Credentials]
    option_lists: Mapping[str, str]
    """Live option lists (kind → what they list); the canvas asks for ``<app>.<kind>``."""
    oauth: OAuthHooks | None
    webhooks: WebhookHooks | None

    @property
    def fields(self) -> tuple[FieldInfo, ...]: ...

    @property
    def secret_fields(self) -> tuple[str, ...]: ...

    def validate(self, spec: Mapping[str, Any]) -> list[str]:
        """Problems of a connection object, as readable sentences (empty when usable)."""
        ...

    def client(self, spec: Mapping[str, Any], *, token_store: TokenStore | None = None, **opts: Any) -> ClientT_co:
        """A client for the connection object (close it with ``aclose``)."""
        ...

    async def options(self, client: Any, kind: str) -> list[Option]:
        """The choices of option list ``kind``."""
        ...

    async def test(self, client: Any) -> ConnectionTest:
        """Whether the connection works, in plain words (never a remote body or a secret)."""
        ...


class AppConnector(abc.ABC, Generic[CredT, ClientT]):
    """The shared half of every connector: form fields, validation and the client factory around ``build``."""

    app: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    credentials: type[CredT]
    option_lists: ClassVar[Mapping[str, str]] = {}
    oauth: OAuthHooks | None = None
    webhooks: WebhookHooks | None = None
    position: ClassVar[int] = 100
    """Place in the lists of applications (the setup wizard's steps): lower first, then by name."""
    short: ClassVar[str] = ""
    """A short name for addresses (the setup wizard's ``?woo=shop``); the application's name when empty."""
    connect_title: ClassVar[str] = ""
    """The heading of the setup wizard's step ("Connect your WooCommerce store"); "Connect <label>" when empty."""
    add_title: ClassVar[str] = ""
    """The connections page's button ("Add a WooCommerce store"); "Add a <label> connection" when empty."""

    @property
    def key(self) -> str:
        """The application's name in addresses: :attr:`short`, else :attr:`app`."""
        return self.short or self.app

    @property
    def fields(self) -> tuple[FieldInfo, ...]:
        return self.credentials.form_fields()

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.secret)

    @property
    def name(self) -> str:
        """The application's name (as :attr:`app`; forms and templates use ``name``)."""
        return self.app

    def parse(self, spec: Mapping[str, Any]) -> tuple[CredT, dict[str, Any]]:
        """The credentials and the tuning options of a connection object.

        Raises:
            InvalidConnectionSpec: the object is incomplete or invalid (every problem listed, no secret values).
        """
        problems: list[str] = []
        if spec.get("app") not in (None, self.app):
            problems.append(f"app is {shown(spec.get('app'))}, expected {shown(self.app)}")
        tuning: dict[str, Any] = {}
        for key in TUNING_KEYS:
            value = spec.get(key)
            if value is None:
                continue
            low, high = TUNING_LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{key} must be a number")
            elif key == "concurrency" and not float(value).is_integer():
                problems.append(f"concurrency must be a whole number from {low:g} to {high:g}")
            elif not low <= value <= high:
                problems.append(f"{key} must be between {low:g} and {high:g}")
            else:
                tuning[key] = int(value) if key == "concurrency" else float(value)
        data = {  # an empty value is a missing one; "_id" and the like are Koppel's own bookkeeping
            k: v
            for k, v in spec.items()
            if k not in ("app", "name", *TUNING_KEYS) and not str(k).startswith("_") and v is not None and v != ""
        }
        credentials: CredT | None = None
        try:
            credentials = self.credentials.model_validate(data)
        except ValidationError as exc:
            problems.extend(_problems(self.label, self.credentials, exc))
        if problems or credentials is None:
            raise InvalidConnectionSpec(self.label, problems)
        return credentials, tuning

    def validate(self, spec: Mapping[str, Any]) -> list[str]:
        try:
            self.parse(spec)
        except InvalidConnectionSpec as exc:
            return exc.problems
        return []

    def client(self, spec: Mapping[str, Any], *, token_store: TokenStore | None = None, **opts: Any) -> ClientT:
        credentials, tuning = self.parse(spec)
        return self.build(credentials, token_store=token_store, **{**tuning, **opts})

    client_type: ClassVar[type[AppClient]]
    """The class of the clients :meth:`build` makes."""

    def own(self, client: Any) -> ClientT:
        """``client`` as this connector's client (``options`` and ``test`` are asked with the client it built).

        Raises:
            TypeError: another connector's client.
        """
        if not isinstance(client, self.client_type):
            raise TypeError(f"not a client of {self.label}")
        return cast(ClientT, client)

    @abc.abstractmethod
    def auth(self, credentials: CredT) -> httpx.Auth:
        """The :class:`httpx.Auth` the client signs its requests with."""

    @abc.abstractmethod
    def build(self, credentials: CredT, *, token_store: TokenStore | None = None, **opts: Any) -> ClientT:
        """The client for validated credentials."""

    async def options(self, client: Any, kind: str) -> list[Option]:
        """The choices of option list ``kind``, as this connector's client lists them."""
        return await self.own(client).options(kind)

    async def test(self, client: Any) -> ConnectionTest:
        """The connection test of this connector's client."""
        return await self.own(client).test()


# --- typed references to connections ------------------------------------------------------------------------


class ConnectionRef(str, Generic[ClientT_co]):
    """The name of a connection of one application, as a node's config field.

    Subclass per application with ``app`` and ``field_title`` set
    (``class AsperionConnection(ConnectionRef[AsperionClient])``); in flow documents it stays a plain string, its
    JSON Schema carries ``{"ui": {"widget": "connection", "app": ...}}``. A node declares the field with
    :meth:`field` (``connection: AsperionConnection = AsperionConnection.field("The administration to book in.")``).
    """

    app: ClassVar[str] = ""
    field_title: ClassVar[str] = "Connection"
    """The form label of a node's field naming such a connection ("Asperion connection")."""

    __slots__ = ()

    @classmethod
    def field(cls, description: str) -> Any:
        """A node's config field naming a connection of this application; by default the one named after it.

        Args:
            description: what the node does with the connection ("The store to write to.").
        """
        return Field(cls(cls.app), title=cls.field_title, description=description)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["ui"] = {"widget": "connection", "app": cls.app}
        return out
