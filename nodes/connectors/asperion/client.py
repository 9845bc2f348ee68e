"""The Asperion API client: OAuth with rotating refresh tokens, tenancy, paging, lookups, and every Asperion shape.

All Asperion paths, field names and envelopes live in this module (see ``shared/specs/asperion-api.md``): lists are
``{"_data": [...], "_meta": {"nextPage", "totalCount", ...}}``, nested lines are posted wrapped the same way, filters
are PascalCase query keys compared with ``Contains`` (so lookups re-check for an exact match), and errors are
ASP.NET problem details. Articles, sales orders and debtor kinds are reconstructed, not documented publicly.

Tokens: the access token is cached until shortly before it expires. Refresh tokens rotate (a used one stops
working), so every new pair is saved through a :class:`TokenStore`, and a stored pair is preferred over the one the
client was built with. When the token endpoint says ``invalid_grant`` the store is read again once (another worker
may have rotated the token meanwhile). A call answered 401 gets one fresh token and one more try.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Generator, Mapping
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import httpx

from nodes.connectors.base import MemoryTokenStore, TokenStore
from nodes.connectors.http import (
    ApiClient,
    ApiError,
    AppClient,
    AuthError,
    ConnectionTest,
    NotFound,
    Option,
    RetryPolicy,
    Unreachable,
)
from nodes.texts import shown

__all__ = (
    "ARTICLES",
    "DEBTORS",
    "JOURNAL_ENTRIES",
    "NOT_CONNECTED",
    "OAUTH_SCOPE",
    "SALES_INVOICES",
    "SALES_ORDERS",
    "AsperionAuth",
    "AsperionClient",
    "MemoryTokenStore",
    "TokenStore",
    "authorize_url",
    "exchange_code",
    "lines_of",
    "wrap_lines",
)

DEBTORS = "/v1/debtors"
SALES_INVOICES = "/v1/salesinvoiceswithlines"
SALES_INVOICE_HEADERS = "/v1/salesinvoices"
JOURNAL_ENTRIES = "/v1/journalentrieswithlines"
ARTICLES = "/v1/articles"
SALES_ORDERS = "/v1/SalesOrderWithLines"
_LISTS = {
    "vat_codes": "/v1/vatcodes",
    "ledger_accounts": "/v1/ledgeraccounts",
    "payment_conditions": "/v1/paymentconditions",
    "debtor_kinds": "/v1/debtorkinds",
    "journals": "/v1/journals",
    "administrations": "/v1/administrations",
    "sales_types": "/v1/salestypes",
}
_READ_ONLY = frozenset({"_meta", "currentStock", "reservedStock", "dateAdded", "dateLastChange"})
_EXPIRY_MARGIN_S = 60.0
_QUICK = RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=2.0, max_total_wait=4.0)
_IDENTITY_OPTIONS = ("transport", "sleep", "clock", "rand", "timeout", "connect_timeout", "retry", "verify")
NOT_CONNECTED = "Not connected yet: press Connect with Asperion and approve Koppel."


def wrap_lines(body: Mapping[str, Any], key: str = "lines") -> dict[str, Any]:
    """``body`` with its ``lines`` list wrapped as Asperion wants it: ``{"_data": [...], "_meta": {"totalCount"}}``."""
    out = dict(body)
    lines = out.get(key)
    if isinstance(lines, list):
        out[key] = {"_data": lines, "_meta": {"totalCount": len(lines)}}
    return out


def lines_of(obj: Mapping[str, Any], key: str = "lines") -> list[dict[str, Any]]:
    """The lines of an Asperion object, wrapped or not."""
    lines = obj.get(key)
    if isinstance(lines, dict):
        lines = lines.get("_data")
    return list(lines) if isinstance(lines, list) else []


def _filter_key(field: str) -> str:
    return field[:1].upper() + field[1:]


OAUTH_SCOPE = "api offline_access"
"""What Koppel asks Asperion's identity server for: the API, and refresh tokens to keep access."""


def _common_prefix(texts: Collection[str]) -> str:
    """The longest text every one of ``texts`` starts with."""
    first, last = min(texts, default=""), max(texts, default="")
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def authorize_url(identity_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    """Where to send the user's browser so that they approve Koppel (OAuth authorization-code flow)."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": OAUTH_SCOPE,
        "state": state,
    }
    return f"{identity_url.strip().rstrip('/')}/connect/authorize?{urlencode(query)}"


async def exchange_code(
    identity_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """Redeem the code Asperion sent back for tokens: ``{access_token, refresh_token, expires_at}``.

    Raises:
        AuthError: the code, client id or secret was refused (the message says which).
        Unreachable: the identity host did not answer.
    """
    token_url = f"{identity_url.strip().rstrip('/')}/connect/token"
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    try:
        async with httpx.AsyncClient(transport=transport, timeout=30) as client:
            response = await client.post(token_url, data=form)
    except httpx.HTTPError as exc:
        raise Unreachable(
            0, f"Asperion's identity server at {identity_url} did not answer ({type(exc).__name__})."
        ) from exc
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200 or not isinstance(answer, dict) or not answer.get("access_token"):
        error = answer.get("error", f"HTTP {response.status_code}") if isinstance(answer, dict) else "no JSON"
        raise AuthError(
            response.status_code, f"Asperion did not accept the sign-in ({error}); try Connect again.", None
        )
    return {
        "access_token": answer["access_token"],
        "refresh_token": answer.get("refresh_token") or "",
        "expires_at": time.time() + float(answer.get("expires_in") or 3600),
    }


class _TokenRefused(Exception):
    def __init__(self, error: str, exc: ApiError) -> None:
        super().__init__(error)
        self.error = error
        self.exc = exc


class TokenSource(Protocol):
    """Where :class:`AsperionAuth` gets bearer tokens (the client, which keeps the rotating pair)."""

    async def access_token(self) -> str: ...

    async def forget(self, token: str) -> None: ...


class AsperionAuth(httpx.Auth):
    """Bearer auth from rotating tokens: a 401 answer gets one fresh token and one more try.

    The connector makes it; the client binds itself as the token source (:meth:`bind`), since the token pair lives
    with the client and its token store.
    """

    def __init__(self, source: TokenSource | None = None) -> None:
        self._source = source

    def bind(self, source: TokenSource) -> AsperionAuth:
        """Take tokens from ``source`` (once)."""
        if self._source is None:
            self._source = source
        return self

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("the Asperion client is asynchronous")  # pragma: no cover

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        if self._source is None:
            raise RuntimeError("AsperionAuth is not bound to a token source")
        token = await self._source.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await self._source.forget(token)
            request.headers["Authorization"] = f"Bearer {await self._source.access_token()}"
            yield request


class AsperionClient(AppClient):
    """An Asperion administration.

    Args:
        url: the API base under which ``/v1/...`` lives (``https://api.asperion.nl``).
        identity_url: the identity host (``https://identity.asperion.nl``); tokens come from ``/connect/token``.
        client_id: the partner client id.
        client_secret: the partner client secret.
        refresh_token: the refresh token obtained when the user connected (a stored newer one wins); None before the
            user connected.
        tenant_id: the administration (``X-Tenant-Id``); None = the user's default administration.
        token_store: keeps rotated tokens; without one they live only as long as this client.
        page_size: items per page when listing.
        **opts: :class:`~nodes.connectors.http.ApiClient` options.
    """

    app_label = "Asperion"

    def __init__(
        self,
        url: str,
        identity_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str | None = None,
        tenant_id: int | str | None = None,
        token_store: TokenStore | None = None,
        *,
        page_size: int = 100,
        **opts: Any,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("a client id and a client secret are required")
        secrets = [client_secret, refresh_token or "", *opts.pop("secrets", ())]
        shared = {k: opts[k] for k in _IDENTITY_OPTIONS if k in opts}
        auth = opts.pop("auth", None)
        super().__init__(
            url, secrets=secrets, auth=(auth if isinstance(auth, AsperionAuth) else AsperionAuth()).bind(self), **opts
        )
        # Token requests go through a client of their own: a request waiting for a token inside the API's
        # concurrency limit must never wait for a slot of that same limit (a deadlock when every slot waits).
        self._identity = ApiClient(
            identity_url.strip().rstrip("/"), app_label="Asperion", concurrency=2, secrets=secrets, **shared
        )
        self.token_url = f"{identity_url.strip().rstrip('/')}/connect/token"
        self.client_id = client_id
        self._client_secret = client_secret
        self._initial_refresh = refresh_token or ""
        self.tenant_id = str(tenant_id) if tenant_id not in (None, "") else None
        self.token_store = token_store
        self.page_size = page_size
        self._tokens: dict[str, Any] | None = None
        self._loaded = False
        self._token_lock = asyncio.Lock()
        self._cache: dict[str, Any] = {}
        self._invoice_lookup_path = SALES_INVOICE_HEADERS

    async def aclose(self) -> None:
        """Close the API's and the identity server's connections."""
        await super().aclose()
        await self._identity.aclose()

    def redact(self, text: str) -> str:
        """Also scrubs the current token pair."""
        text = super().redact(text)
        for key in ("access_token", "refresh_token"):
            value = (self._tokens or {}).get(key)
            if isinstance(value, str) and len(value) >= 4:
                text = text.replace(value, "***")
        return text

    def parse_error_body(self, body: Any) -> tuple[str, dict[str, list[str]]]:
        """Problem details ``{"title", "detail", "errors": {"Field": [...]}}`` and OAuth ``{"error", ...}``."""
        if not isinstance(body, dict):
            return super().parse_error_body(body)
        if "error" in body and "title" not in body:
            text = str(body.get("error_description") or "")
            return f"{body['error']}{': ' + text if text else ''}", {}
        message = str(body.get("detail") or body.get("title") or body.get("message") or "")
        errors = body.get("errors")
        fields: dict[str, list[str]] = {}
        if isinstance(errors, dict):
            for name, messages in errors.items():
                fields[str(name)] = [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]
        if fields and body.get("title") and body.get("detail"):
            message = str(body["title"])
        return message, fields

    # -- tokens -------------------------------------------------------------------------------------------------

    def _valid(self, tokens: dict[str, Any] | None) -> bool:
        if not tokens or not tokens.get("access_token"):
            return False
        try:
            return float(tokens.get("expires_at") or 0) - _EXPIRY_MARGIN_S > self._clock()
        except (TypeError, ValueError):
            return False

    async def access_token(self, *, retry: RetryPolicy | None = None, fresh: bool = False) -> str:
        """A valid access token, refreshing (and persisting the rotated refresh token) when needed.

        Args:
            retry: the retry policy of the token request.
            fresh: ask the identity server even when a cached token is valid (a connection test must find a wrong
                client secret, which a cached token would hide).

        Raises:
            AuthError: the client or the refresh token was refused, or there is no refresh token yet.
            Unreachable: the identity host did not answer.
        """
        if not fresh and self._loaded and self._valid(self._tokens):
            return str(self._tokens["access_token"])  # type: ignore[index]
        async with self._token_lock:
            await self._load_once()
            if not fresh and self._valid(self._tokens):
                return str(self._tokens["access_token"])  # type: ignore[index]
            if not self.connected:
                raise AuthError(0, NOT_CONNECTED, None)
            await self._refresh(retry)
            return str(self._tokens["access_token"])  # type: ignore[index]

    @property
    def connected(self) -> bool:
        """Whether a refresh token is known (given, or stored by "Connect with Asperion"); call after loading."""
        return bool((self._tokens or {}).get("refresh_token") or self._initial_refresh)

    async def load_tokens(self) -> None:
        """Read the token store once (a stored pair is newer than the one the client was built with)."""
        async with self._token_lock:
            await self._load_once()

    async def _load_once(self) -> None:
        if not self._loaded:
            self._loaded = True
            stored = await self.token_store.load() if self.token_store else None
            if stored and stored.get("refresh_token"):
                self._tokens = dict(stored)

    async def _refresh(self, retry: RetryPolicy | None) -> None:
        tried: list[str] = []
        candidate = (self._tokens or {}).get("refresh_token") or self._initial_refresh
        while True:
            tried.append(candidate)
            try:
                answer = await self._token_request(candidate, retry)
                break
            except _TokenRefused as refused:
                if refused.error != "invalid_grant":
                    raise self._token_error(refused) from refused.exc
                stored = await self.token_store.load() if self.token_store else None
                if stored and self._valid(stored) and stored.get("refresh_token") not in tried:
                    self._tokens = dict(stored)  # another worker rotated it a moment ago
                    return
                fallbacks = [(stored or {}).get("refresh_token"), self._initial_refresh]
                fresh = [t for t in fallbacks if t and t not in tried]
                if not fresh:
                    raise self._token_error(refused) from refused.exc
                candidate = fresh[0]
        expires_in = float(answer.get("expires_in") or 3600)
        self._tokens = {
            "access_token": answer["access_token"],
            "refresh_token": answer.get("refresh_token") or candidate,
            "expires_at": self._clock() + expires_in,
        }
        if self.token_store:
            await self.token_store.save(dict(self._tokens))

    async def _token_request(self, refresh_token: str, retry: RetryPolicy | None) -> dict[str, Any]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        try:
            response = await self._identity.request("POST", self.token_url, data=form, retry=retry)
        except ApiError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            if exc.status in (400, 401) and isinstance(body.get("error"), str):
                raise _TokenRefused(body["error"], exc) from exc
            raise
        answer = self._identity.json_of("POST", self.token_url, response)
        if not isinstance(answer, dict) or not answer.get("access_token"):
            raise AuthError(response.status_code, "Asperion's token endpoint answered without an access token.", None)
        return answer

    def _token_error(self, refused: _TokenRefused) -> AuthError:
        if refused.error == "invalid_grant":
            text = (
                "Asperion refused the refresh token (invalid_grant): it expired, was revoked or was already used. "
                "Connect Asperion again to get a new one."
            )
        elif refused.error in ("invalid_client", "unauthorized_client"):
            text = f"Asperion refused the client id or client secret ({refused.error})."
        else:
            text = f"Asperion refused the token request ({refused.error})."
        return AuthError(refused.exc.status, self.redact(text), refused.exc.body)

    async def forget(self, token: str) -> None:
        """Stop using ``token`` (the API refused it): the next request gets a fresh one."""
        async with self._token_lock:
            if self._tokens and self._tokens.get("access_token") == token:
                self._tokens["expires_at"] = 0

    # -- requests -----------------------------------------------------------------------------------------------

    @staticmethod
    def _path(path: str) -> str:
        if path.startswith(("http://", "https://", "/v1/")):
            return path
        return "/v1/" + path.lstrip("/")

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """An authenticated API request (``X-Tenant-Id`` added; :class:`AsperionAuth` adds the bearer token).

        Args:
            method: HTTP method.
            path: ``/v1/...``, a path relative to ``/v1/``, or an absolute URL (``nextPage``).
            **kwargs: as :meth:`~nodes.connectors.http.ApiClient.request`.
        """
        path = self._path(path)
        extra = dict(kwargs.pop("headers", None) or {})
        if self.tenant_id:
            extra.setdefault("X-Tenant-Id", self.tenant_id)
        return await super().request(method, path, headers=extra, **kwargs)

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and return the JSON."""
        response = await self.request("GET", path, params=params)
        return self.json_of("GET", path, response)

    async def post(self, path: str, json: Any, params: Mapping[str, Any] | None = None) -> Any:
        """POST (nested ``lines`` lists are wrapped) and return the created object."""
        body = wrap_lines(json) if isinstance(json, Mapping) else json
        response = await self.request("POST", path, json=body, params=params)
        return self.json_of("POST", path, response)

    async def put(self, path: str, json: Any, params: Mapping[str, Any] | None = None) -> Any:
        """PUT (nested ``lines`` wrapped, read-only fields left out) and return the updated object."""
        body = {k: v for k, v in wrap_lines(json).items() if k not in _READ_ONLY} if isinstance(json, Mapping) else json
        response = await self.request("PUT", path, json=body, params=params)
        return self.json_of("PUT", path, response)

    async def pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """A list page by page, following ``_meta.nextPage`` (empty pages are not yielded)."""
        query: dict[str, Any] | None = {**(params or {}), "page": 1, "pageSize": page_size or self.page_size}
        url = self._path(path)
        origin = urlsplit(self.base_url)[:2]
        page = 1
        while True:
            answer = await self.get(url, query)
            items = answer.get("_data") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise ApiError(200, f"Asperion answered {path} without a _data list", None)
            if items:
                yield items
            next_page = str(((answer.get("_meta") or {}).get("nextPage")) or "")
            if not items or not next_page or next_page == url:
                break
            page += 1
            if urlsplit(next_page)[:2] == origin:
                url, query = next_page, None
            else:  # never send the token elsewhere: ask the same host for the next page
                query = {**(params or {}), "page": page, "pageSize": page_size or self.page_size}

    async def total(self, path: str, params: Mapping[str, Any] | None = None) -> int:
        """``_meta.totalCount`` of a list for ``params``."""
        answer = await self.get(path, {**(params or {}), "page": 1, "pageSize": 1})
        meta = answer.get("_meta") if isinstance(answer, dict) else None
        if isinstance(meta, dict) and meta.get("totalCount") is not None:
            return int(meta["totalCount"])
        return len(answer.get("_data") or []) if isinstance(answer, dict) else 0

    async def find_exact(
        self,
        path: str,
        field: str,
        value: Any,
        *,
        extra: Mapping[str, Any] | None = None,
        case_insensitive: bool | None = None,
    ) -> dict[str, Any] | None:
        """The first object whose ``field`` equals ``value`` exactly (Asperion's filter is ``Contains``).

        Args:
            path: the list.
            field: the camelCase field (``emailAddress``); the filter key is its PascalCase form.
            value: the value looked for.
            extra: more filters.
            case_insensitive: compare case-insensitively (default: for e-mail fields).
        """
        if value in (None, ""):
            return None
        wanted = str(value).strip()
        fold = ("email" in field.lower()) if case_insensitive is None else case_insensitive
        if fold:
            wanted = wanted.casefold()
        # Equals keeps "order 1" from paging through orders 10-19, 100-199, …; it never finds less than the
        # default Contains would match exactly, and the exact re-check below stays.
        query = {
            **(extra or {}),
            _filter_key(field): str(value).strip(),
            f"{_filter_key(field)}_comparison": "Equals",
        }
        async for page in self.pages(path, query):
            for item in page:
                got = str(item.get(field) if item.get(field) is not None else "").strip()
                if (got.casefold() if fold else got) == wanted:
                    return item
        return None

    async def described_between(
        self,
        path: str,
        descriptions: Collection[str],
        first_date: str,
        last_date: str,
        *,
        extra: Mapping[str, Any] | None = None,
        fields: Collection[str] = ("id", "description"),
        max_pages: int,
    ) -> dict[str, list[dict[str, Any]]] | None:
        """The objects of a list dated ``first_date``..``last_date`` whose description is one of ``descriptions``
        (exactly), in one filtered list: ``Date_from``/``Date_to``, and ``Description`` StartsWith what the
        descriptions have in common.

        Args:
            path: the list.
            descriptions: the descriptions looked for.
            first_date: the earliest date (``YYYY-MM-DD``).
            last_date: the latest date.
            extra: more filters (``JournalId``).
            fields: the fields to fetch of each object.
            max_pages: give up (None) when the list is longer than this: asking one by one is cheaper then.

        Returns:
            description → the objects that carry it exactly, or None when the list was too long.
        """
        wanted = {d.strip() for d in descriptions if d.strip()}
        query: dict[str, Any] = {
            **(extra or {}),
            "Date_from": first_date,
            "Date_to": last_date,
            "fields": ",".join(fields),
        }
        prefix = _common_prefix(wanted)
        if prefix:
            query.update({"Description": prefix, "Description_comparison": "StartsWith"})
        found: dict[str, list[dict[str, Any]]] = {}
        answer = await self.get(path, {**query, "page": 1, "pageSize": self.page_size})
        pages = int(((answer or {}).get("_meta") or {}).get("pageCount") or 1) if isinstance(answer, dict) else 1
        if pages > max_pages:
            return None
        page = 1
        while isinstance(answer, dict):
            for item in answer.get("_data") or []:
                description = str(item.get("description") or "").strip()
                if description in wanted:
                    found.setdefault(description, []).append(item)
            if page >= pages or not answer.get("_data"):
                break
            page += 1
            answer = await self.get(path, {**query, "page": page, "pageSize": self.page_size})
        return found

    async def newest_id(self, path: str) -> str:
        """The id of the newest object of a list ("" when it is empty): Asperion numbers objects in order."""
        answer = await self.get(path, {"orderBy": "id desc", "page": 1, "pageSize": 1, "fields": "id"})
        items = answer.get("_data") if isinstance(answer, dict) else None
        return str(items[0].get("id", "")) if isinstance(items, list) and items else ""

    # -- debtors, invoices, orders, journal entries, articles ------------------------------------------------

    async def find_debtor_by_email(self, email: str) -> dict[str, Any] | None:
        """The debtor with exactly this e-mail address (case-insensitive), or None."""
        return await self.find_exact(DEBTORS, "emailAddress", email)

    async def find_debtor_by_customer_number(self, number: str) -> dict[str, Any] | None:
        """The debtor with this customer number, or None."""
        return await self.find_exact(DEBTORS, "customerNumber", number)

    async def create_debtor(self, debtor: Mapping[str, Any]) -> dict[str, Any]:
        """Create a debtor; Asperion assigns ``customerNumber`` when it is absent."""
        return dict(await self.post(DEBTORS, dict(debtor)))

    async def update_debtor(self, debtor_id: int | str, debtor: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a debtor (pass the full object, e.g. ``{**found, **changes}``)."""
        return dict(await self.put(f"{DEBTORS}/{debtor_id}", dict(debtor)))

    async def find_invoice_by_description(self, description: str) -> dict[str, Any] | None:
        """The sales invoice whose description is exactly ``description`` (Koppel puts the order number there)."""
        try:
            return await self.find_exact(self._invoice_lookup_path, "description", description)
        except NotFound:
            if self._invoice_lookup_path == SALES_INVOICES:
                raise
            self._invoice_lookup_path = SALES_INVOICES
            return await self.find_exact(SALES_INVOICES, "description", description)

    async def create_invoice(self, invoice: Mapping[str, Any]) -> dict[str, Any]:
        """Create a (concept) sales invoice with its lines."""
        return dict(await self.post(SALES_INVOICES, dict(invoice)))

    async def get_invoice(self, invoice_id: int | str) -> dict[str, Any] | None:
        """The sales invoice with its lines, or None when Asperion no longer has it."""
        try:
            return dict(await self.get(f"{SALES_INVOICES}/{invoice_id}"))
        except NotFound:
            return None

    async def update_invoice(self, invoice_id: int | str, invoice: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a concept sales invoice (header and lines); Asperion refuses once it is processed."""
        return dict(await self.put(f"{SALES_INVOICES}/{invoice_id}", dict(invoice)))

    async def invoices_described(self, prefix: str) -> list[dict[str, Any]]:
        """Every sales invoice whose description starts with ``prefix`` (all pages; re-checked here)."""
        wanted = prefix.strip()
        query = {"Description": wanted, "Description_comparison": "StartsWith"}
        found: list[dict[str, Any]] = []
        async for page in self.pages(SALES_INVOICES, query):
            found.extend(item for item in page if str(item.get("description") or "").strip().startswith(wanted))
        return found

    async def invoices_containing(self, text: str) -> list[dict[str, Any]]:
        """Every sales invoice whose description contains ``text`` (Asperion's default filter; all pages; re-checked
        here), e.g. the refund credits "… of order 5012" of one order."""
        wanted = text.strip()
        found: list[dict[str, Any]] = []
        async for page in self.pages(SALES_INVOICES, {"Description": wanted}):
            found.extend(item for item in page if wanted in str(item.get("description") or ""))
        return found

    async def find_sales_order_by_description(self, description: str) -> dict[str, Any] | None:
        """The sales order whose description is exactly ``description``."""
        return await self.find_exact(SALES_ORDERS, "description", description)

    async def create_sales_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """Create a sales order with its lines (inTrade)."""
        return dict(await self.post(SALES_ORDERS, dict(order)))

    async def update_sales_order(self, order_id: int | str, order: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a sales order (the full object with its lines), e.g. to move it to ``delivered`` (inTrade:
        its reservation ends and the stock leaves)."""
        body = {key: value for key, value in order.items() if key not in ("id", "_meta")}
        body["lines"] = [{k: v for k, v in line.items() if k not in ("id", "_meta")} for line in lines_of(order)]
        return dict(await self.put(f"{SALES_ORDERS}/{order_id}", body))

    async def find_journal_entry(
        self,
        *,
        description: str | None = None,
        source_document_number: str | None = None,
        journal_id: str | None = None,
    ) -> dict[str, Any] | None:
        """The journal entry matching every given field exactly (searched by document number, else description)."""
        wanted = {"sourceDocumentNumber": source_document_number, "description": description, "journalId": journal_id}
        wanted = {k: v for k, v in wanted.items() if v not in (None, "")}
        if "sourceDocumentNumber" not in wanted and "description" not in wanted:
            raise ValueError("give a description or a source document number")
        field = "sourceDocumentNumber" if "sourceDocumentNumber" in wanted else "description"
        extra = {"JournalId": journal_id} if journal_id else {}
        async for page in self.pages(JOURNAL_ENTRIES, {**extra, _filter_key(field): wanted[field]}):
            for item in page:
                if all(str(item.get(k) or "").strip() == str(v).strip() for k, v in wanted.items()):
                    return item
        return None

    async def journal_entries_described(self, text: str, journal_id: str | None = None) -> list[dict[str, Any]]:
        """Every journal entry whose description contains ``text`` (all pages; re-checked here)."""
        wanted = text.strip()
        query = {"Description": wanted, **({"JournalId": journal_id} if journal_id else {})}
        found: list[dict[str, Any]] = []
        async for page in self.pages(JOURNAL_ENTRIES, query):
            found.extend(item for item in page if wanted in str(item.get("description") or ""))
        return found

    async def create_journal_entry(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Create a journal entry (financial mutation); its signed line amounts must sum to zero."""
        return dict(await self.post(JOURNAL_ENTRIES, dict(entry)))

    async def find_article_by_code(self, code: str) -> dict[str, Any] | None:
        """The article whose code (the SKU) is exactly ``code``."""
        return await self.find_exact(ARTICLES, "code", code)

    async def create_article(self, article: Mapping[str, Any]) -> dict[str, Any]:
        """Create an article (stock fields are read-only and left out)."""
        return dict(await self.post(ARTICLES, {k: v for k, v in article.items() if k not in _READ_ONLY}))

    async def update_article(self, article_id: int | str, article: Mapping[str, Any]) -> dict[str, Any]:
        """Replace an article (stock fields are read-only and left out)."""
        return dict(await self.put(f"{ARTICLES}/{article_id}", dict(article)))

    # -- reading for sources ------------------------------------------------------------------------------------

    @staticmethod
    def _article_query(changed_from: str | None, changed_to: str | None) -> dict[str, Any]:
        query: dict[str, Any] = {"orderBy": "id"}
        if changed_from:
            query["DateLastChange_from"] = changed_from
        if changed_to:
            query["DateLastChange_to"] = changed_to
        return query

    async def article_pages(
        self, *, changed_from: str | None = None, changed_to: str | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Articles page by page (by id), optionally only those changed in ``[changed_from, changed_to]``.

        Each article carries ``changed`` = its ``dateLastChange`` (the stamp a cursor follows, None when unknown).
        """
        async for page in self.pages(ARTICLES, self._article_query(changed_from, changed_to)):
            yield [{**article, "changed": article.get("dateLastChange")} for article in page]

    async def count_articles(self, *, changed_from: str | None = None, changed_to: str | None = None) -> int:
        """How many articles :meth:`article_pages` would give."""
        return await self.total(ARTICLES, self._article_query(changed_from, changed_to))

    @staticmethod
    def _order_query(
        status: str | None, min_id: int | None, date_from: str | None, date_to: str | None
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"orderBy": "id"}
        if status:
            query.update(Status=status, Status_comparison="Equals")
        if min_id is not None:
            query["Id_from"] = min_id
        if date_from:
            query["Date_from"] = date_from
        if date_to:
            query["Date_to"] = date_to
        return query

    async def sales_order_pages(
        self,
        *,
        status: str | None = None,
        min_id: int | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Sales orders page by page in id order, their ``lines`` unwrapped into a plain list.

        Args:
            status: only orders with this status (``open``, ``delivered``, ``invoiced``).
            min_id: only orders with at least this id (new orders since a cursor).
            date_from: only orders dated on or after this day.
            date_to: only orders dated on or before this day.
        """
        query = self._order_query(status, min_id, date_from, date_to)
        async for page in self.pages(SALES_ORDERS, query):
            kept = [o for o in page if min_id is None or int(o.get("id") or 0) >= min_id]
            kept = [o for o in kept if not status or str(o.get("status") or "").lower() == status.lower()]
            yield [{**order, "lines": lines_of(order)} for order in kept]

    async def count_sales_orders(
        self,
        *,
        status: str | None = None,
        min_id: int | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> int:
        """How many sales orders :meth:`sales_order_pages` would give."""
        return await self.total(SALES_ORDERS, self._order_query(status, min_id, date_from, date_to))

    # -- option lists -------------------------------------------------------------------------------------------

    async def _list(self, name: str) -> list[dict[str, Any]]:
        if name not in self._cache:
            items: list[dict[str, Any]] = []
            try:
                async for page in self.pages(_LISTS[name]):
                    items.extend(page)
            except NotFound:
                items = []  # e.g. debtor kinds or sales types in an administration without them
            self._cache[name] = items
        return list(self._cache[name])

    async def vat_codes(self) -> list[dict[str, Any]]:
        """VAT codes: ``id``, ``description``, ``percentage``, ``salesCode``, ``countryCode``, ..."""
        return await self._list("vat_codes")

    async def ledger_accounts(self) -> list[dict[str, Any]]:
        """Ledger accounts: ``id`` (the account number), ``description``, ``type``, ``vatCode``, ``disabled``."""
        return await self._list("ledger_accounts")

    async def payment_conditions(self) -> list[dict[str, Any]]:
        """Payment conditions: ``id``, ``description``."""
        return await self._list("payment_conditions")

    async def debtor_kinds(self) -> list[dict[str, Any]]:
        """Debtor kinds: ``id``, ``description``."""
        return await self._list("debtor_kinds")

    async def journals(self) -> list[dict[str, Any]]:
        """Journals: ``id``, ``description``, ``type``."""
        return await self._list("journals")

    async def administrations(self) -> list[dict[str, Any]]:
        """The administrations the user may open: ``id``, ``name``."""
        return await self._list("administrations")

    async def articles(self) -> list[dict[str, Any]]:
        """Every active article (cached for this client; sources page through ``/v1/articles`` instead)."""
        if "articles" not in self._cache:
            items: list[dict[str, Any]] = []
            async for page in self.pages(ARTICLES):
                items.extend(page)
            self._cache["articles"] = items
        return list(self._cache["articles"])

    async def options(self, kind: str) -> list[Option]:
        """Choices for a select box: ``vatcodes``, ``ledgeraccounts``, ``paymentconditions``, ``articles``,
        ``debtorkinds`` or ``journals``.

        Raises:
            KeyError: for another kind.
        """
        if kind == "vatcodes":
            return [
                Option(
                    value=str(v["id"]), label=f"{v['id']} — {v.get('description', '')} ({v.get('percentage', '?')} %)"
                )
                for v in await self.vat_codes()
            ]
        if kind == "ledgeraccounts":
            return [
                Option(value=str(a["id"]), label=f"{a['id']} — {a.get('description', '')}")
                for a in await self.ledger_accounts()
                if not a.get("disabled")
            ]
        if kind == "articles":
            return [
                Option(value=str(a["code"]), label=f"{a['code']} — {a.get('description', '')}")
                for a in await self.articles()
            ]
        simple = {
            "paymentconditions": self.payment_conditions,
            "debtorkinds": self.debtor_kinds,
            "journals": self.journals,
        }
        if kind in simple:
            return [
                Option(value=str(x["id"]), label=f"{x['id']} — {x.get('description', '')}".rstrip(" —"))
                for x in await simple[kind]()
            ]
        raise KeyError(f"unknown Asperion option list {shown(kind)}")

    # -- connection test ----------------------------------------------------------------------------------------

    async def test(self) -> ConnectionTest:
        """Check the client, the refresh token and the administration; Asperion cannot tell write rights.

        The token is always asked afresh, so a wrong client secret is found even while a cached token is valid;
        no remote error text is repeated.
        """
        await self.load_tokens()
        if not self.connected:
            return ConnectionTest(False, NOT_CONNECTED)
        try:
            await self.access_token(retry=_QUICK, fresh=True)
            answer = await self.get("/v1/administrations", {"pageSize": 250})
        except Unreachable as exc:
            return ConnectionTest(False, exc.message, status=0)
        except AuthError as exc:
            if exc.status == 403 and self.tenant_id:
                return ConnectionTest(
                    False, f"This Asperion user has no access to administration {self.tenant_id}.", status=403
                )
            return ConnectionTest(False, exc.message, status=exc.status)
        except ApiError as exc:
            return ConnectionTest(False, self._plain(exc), status=exc.status)
        admins = answer.get("_data") if isinstance(answer, dict) else None
        admins = admins if isinstance(admins, list) else []
        names = {str(a.get("id")): str(a.get("name") or "") for a in admins}
        if self.tenant_id and names and self.tenant_id not in names:
            available = ", ".join(f"{k} ({v})" for k, v in names.items())
            return ConnectionTest(
                False,
                f"Administration {self.tenant_id} is not available to this user; available: {available}.",
                status=200,
            )
        meta = answer.get("_meta") if isinstance(answer, dict) else {}
        current = self.tenant_id or str((meta or {}).get("administrationId") or "")
        label = f"{current} {names.get(current, '')}".strip() or "the default administration"
        return ConnectionTest(True, f"Connected to Asperion administration {label}.", None, status=200)
