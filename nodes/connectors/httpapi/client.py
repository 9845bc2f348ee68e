"""The generic HTTP API client and its kinds of authentication (none, basic, bearer, API key in a header or in the
query, OAuth2 client credentials).

Built on :class:`~nodes.connectors.http.ApiClient`: retries, ``Retry-After``, adaptive concurrency, readable and
redacted errors. The connection test reports the HTTP status in Koppel's own words and never repeats the body.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx

from nodes import jsoncodec
from nodes.connectors.http import (
    ApiError,
    AppClient,
    ConnectionTest,
    RetryPolicy,
    Unreachable,
    plain_http_status,
)
from nodes.paths import get_value

__all__ = ("AUTH_KINDS", "PAGING_STYLES", "ApiKeyHeader", "ApiKeyQuery", "ClientCredentials", "HttpApiClient", "Paging")

AUTH_KINDS = ("none", "basic", "bearer", "api_key_header", "api_key_query", "oauth2")
"""The kinds of authentication a generic HTTP API connection offers."""

PagingStyle = Literal["none", "page", "offset", "link", "cursor", "next_url"]
PAGING_STYLES: tuple[PagingStyle, ...] = ("none", "page", "offset", "link", "cursor", "next_url")
"""No paging; a page number; an offset; the ``Link: <…>; rel="next"`` header; a cursor or the next page's URL
read from the answer."""


@dataclass(frozen=True)
class Paging:
    """How a list is read page by page.

    Attributes:
        style: one of :data:`PAGING_STYLES`.
        page_size: items per page, sent as ``size_param`` (page style) or ``limit_param`` (offset style); a shorter
            page is the last one. None: the API's own size, and an empty page ends the list.
        page_param: the page number's query parameter (page style), counted from ``first_page``.
        first_page: the first page's number.
        size_param: the page size's query parameter (page style).
        offset_param: the offset's query parameter (offset style), counted from 0.
        limit_param: the page size's query parameter (offset style).
        next_path: where the answer holds the cursor (cursor style) or the next page's URL (next_url style).
        cursor_param: the query parameter that sends the cursor back (cursor style).
        max_pages: a safety stop for an API that never ends its list.
    """

    style: PagingStyle = "none"
    page_size: int | None = None
    page_param: str = "page"
    first_page: int = 1
    size_param: str = "per_page"
    offset_param: str = "offset"
    limit_param: str = "limit"
    next_path: str = "next"
    cursor_param: str = "cursor"
    max_pages: int = 1000


_QUICK = RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=2.0, max_total_wait=4.0)
_EARLY = 30.0
"""A client-credentials token is renewed this many seconds before it expires."""


class ApiKeyHeader(httpx.Auth):
    """A fixed header on every request (``Authorization: Bearer <token>`` or ``X-API-Key: <key>``)."""

    def __init__(self, name: str, value: str) -> None:
        self._name = name
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the header."""
        request.headers[self._name] = self._value
        yield request


class ApiKeyQuery(httpx.Auth):
    """A query parameter on every request (``?api_key=<key>``)."""

    def __init__(self, name: str, value: str) -> None:
        self._name = name
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the parameter."""
        request.url = request.url.copy_merge_params({self._name: self._value})
        yield request


class ClientCredentials(httpx.Auth):
    """OAuth2 client credentials: a token from ``token_url`` (kept until shortly before it expires) as a bearer.

    A request answered 401 fetches a new token once and is sent again.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_url = token_url
        self._form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        if scope:
            self._form["scope"] = scope
        self._clock = clock
        self._token = ""
        self._expires_at = 0.0
        self.fetches = 0

    def _token_request(self) -> httpx.Request:
        return httpx.Request("POST", self.token_url, data=self._form, headers={"Accept": "application/json"})

    def _take(self, response: httpx.Response) -> None:
        if response.status_code >= 300:
            raise ApiError(
                response.status_code,
                f"The token address refused the client id and secret (HTTP {response.status_code}).",
            )
        try:
            body = jsoncodec.loads(response.content)
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError(response.status_code, "The token address answered without an access_token.")
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        seconds = float(lifetime) if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) else 3600.0
        self._token = token
        self._expires_at = self._clock() + max(seconds - _EARLY, 1.0)
        self.fetches += 1

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Fetch a token when there is none (or it is about to expire), sign, and renew once after a 401."""
        if not self._token or self._clock() >= self._expires_at:
            self._take((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            self._take((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request


class HttpApiClient(AppClient):
    """A JSON API at ``base_url`` (paths are relative to it; absolute URLs are used as given).

    Args:
        base_url: the API's address (``https://api.example.com/v1``).
        test_path: what the connection test reads ("" reads the base URL itself).
        **opts: :class:`~nodes.connectors.http.ApiClient` options (auth, secrets, concurrency, transport, ...).
    """

    app_label = "The API"

    def __init__(self, base_url: str, *, test_path: str = "", **opts: Any) -> None:
        super().__init__(base_url, **opts)
        self.test_path = test_path

    async def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET ``path`` (relative or absolute), with retries."""
        return await self.request("GET", path, params=params)

    async def pages(
        self, path: str, params: dict[str, Any], paging: Paging, items: Callable[[Any], list[Any]]
    ) -> AsyncIterator[list[Any]]:
        """The items of a list, page by page (``items`` picks them from each answer; empty pages are not yielded).

        Raises:
            ApiError: a request failed after its retries, an answer is not JSON, a next page is on another host
                (the credentials would go there), or the list runs past ``paging.max_pages``.
        """
        url = path
        query: dict[str, Any] | None = dict(params)
        assert query is not None
        if paging.style == "page":
            query[paging.page_param] = paging.first_page
            if paging.page_size:
                query[paging.size_param] = paging.page_size
        elif paging.style == "offset":
            query[paging.offset_param] = 0
            if paging.page_size:
                query[paging.limit_param] = paging.page_size
        origin = urlsplit(self.base_url)[:2]
        for _ in range(paging.max_pages):
            response = await self.request("GET", url, params=query)
            body = self.json_of("GET", url, response)
            found = items(body)
            if found:
                yield found
            following: str | None = None
            if paging.style in ("page", "offset"):
                if not found or (paging.page_size and len(found) < paging.page_size):
                    return
                assert query is not None
                if paging.style == "page":
                    query = {**query, paging.page_param: int(query[paging.page_param]) + 1}
                else:
                    query = {**query, paging.offset_param: int(query[paging.offset_param]) + len(found)}
                continue
            if paging.style == "link":
                following = response.links.get("next", {}).get("url")
            elif paging.style == "cursor":
                cursor = get_value(body, paging.next_path)
                if cursor in (None, ""):
                    return
                query = {**params, paging.cursor_param: str(cursor)}
                continue
            elif paging.style == "next_url":
                value = get_value(body, paging.next_path)
                following = str(value) if value not in (None, "") else None
            if not following:
                return
            url, query = urljoin(str(response.url), following), None
            if urlsplit(url)[:2] != origin:
                raise ApiError(
                    200, f"{self.app_label}'s next page is on another host; refusing to send the credentials there"
                )
        raise ApiError(200, f"{self.app_label} kept giving pages: stopped after {paging.max_pages} pages")

    async def test(self) -> ConnectionTest:
        """Read ``test_path`` once: the HTTP status in plain words (the body is never repeated)."""
        try:
            response = await self.request("GET", self.test_path, retry=_QUICK)
        except Unreachable as exc:
            return ConnectionTest(False, exc.message, status=0)
        except ApiError as exc:
            if exc.status == 0:
                return ConnectionTest(False, self.redact(str(exc)), status=0)
            return ConnectionTest(False, plain_http_status(self.app_label, exc.status), status=exc.status)
        return ConnectionTest(
            True, f"{self.app_label} answered (HTTP {response.status_code}).", status=response.status_code
        )
