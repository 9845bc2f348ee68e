"""The Mollie API v2 client: bearer key auth, HAL cursor paging (``_links.next``), settlements and their members.

Built on :class:`~nodes.connectors.http.ApiClient` (retries, ``Retry-After``, concurrency, readable and redacted
errors). Mollie's own shapes are read through :mod:`nodes.connectors.mollie.shapes`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from nodes.connectors.base import plain_http_status
from nodes.connectors.http import (
    ApiError,
    AppClient,
    AuthError,
    ConnectionTest,
    NotFound,
    RetryPolicy,
    Unreachable,
    is_loopback,
)
from nodes.connectors.mollie.shapes import embedded, next_href
from nodes.texts import shown

__all__ = ("API_URL", "KEY_PREFIXES", "MAX_LIMIT", "BearerKey", "MollieClient")

API_URL = "https://api.mollie.com"
KEY_PREFIXES = ("test_", "live_", "access_")
"""Test and live API keys, and organization access tokens (settlements need one at Mollie itself)."""
MAX_LIMIT = 250
_QUICK = RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=2.0, max_total_wait=4.0)


class BearerKey(httpx.Auth):
    """``Authorization: Bearer <key>`` on every request."""

    def __init__(self, key: str) -> None:
        self._header = f"Bearer {key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the header."""
        request.headers["Authorization"] = self._header
        yield request


class MollieClient(AppClient):
    """A Mollie account, through the API v2.

    Args:
        url: the API's address without ``/v2`` (``https://api.mollie.com``; the sandbox's ``…/mollie``).
        api_key: a test or live API key (``test_…``, ``live_…``) or an organization access token (``access_…``).
        **opts: :class:`~nodes.connectors.http.ApiClient` options (concurrency, timeout, retry, transport, ...).

    Raises:
        ValueError: the key does not look like a Mollie key, or plain HTTP to another machine.
    """

    app_label = "Mollie"

    def __init__(self, url: str = API_URL, api_key: str = "", **opts: Any) -> None:
        url = (url or API_URL).strip().rstrip("/").removesuffix("/v2")
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"the Mollie API address must start with https:// (got {shown(url)})")
        if url.startswith("http://") and not is_loopback(url):
            raise ValueError("Mollie is reached over HTTPS only: use the https:// address")
        key = (api_key or "").strip()
        if not key.startswith(KEY_PREFIXES):
            raise ValueError("a Mollie API key starts with test_ or live_ (an organization access token with access_)")
        self.api_url = url
        self.test_mode = key.startswith("test_")
        secrets = [key, *opts.pop("secrets", ())]
        opts.setdefault("auth", BearerKey(key))
        super().__init__(f"{url}/v2", secrets=secrets, **opts)
        self._origin = urlsplit(self.base_url)[:2]

    def parse_error_body(self, body: Any) -> tuple[str, dict[str, list[str]]]:
        """Mollie errors: ``{"status", "title", "detail", "field"?, "_links"}``."""
        if isinstance(body, dict) and ("detail" in body or "title" in body):
            detail = str(body.get("detail") or body.get("title") or "")
            name = body.get("field")
            return detail, ({str(name): [detail]} if name else {})
        return super().parse_error_body(body)

    # -- reading ------------------------------------------------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to ``/v2``, or an absolute URL on the same host) and return the JSON."""
        return await self.request_json("GET", path, params=params)

    async def pages(
        self, path: str, kind: str, params: Mapping[str, Any] | None = None, *, limit: int = MAX_LIMIT
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """A HAL list page by page (newest first), following ``_links.next`` (empty pages are not yielded).

        Args:
            path: the list, relative to ``/v2`` (``settlements``, ``settlements/stl_…/payments``).
            kind: the key under ``_embedded`` (``settlements``, ``payments``, ``refunds``, ``chargebacks``).
            params: extra query parameters of the first request.
            limit: items per page (1–250).

        Raises:
            ApiError: an answer that is not a Mollie list, or a next page on another host (the key would leak).
        """
        url: str | None = path
        query: dict[str, Any] | None = {**(params or {}), "limit": max(1, min(limit, MAX_LIMIT))}
        while url:
            body = await self.get(url, query)
            if not isinstance(body, dict) or ("_embedded" not in body and "count" not in body):
                raise ApiError(200, f"Mollie answered {path} with something that is not a list: is this Mollie's API?")
            items = embedded(body, kind)
            if items:
                yield items
            url, query = next_href(body), None
            if url and urlsplit(url)[:2] != self._origin:
                raise ApiError(200, f"Mollie's next page of {path} is on another host; refusing to send the key there")

    async def items(self, path: str, kind: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a HAL list."""
        out: list[dict[str, Any]] = []
        async for page in self.pages(path, kind, params):
            out.extend(page)
        return out

    def settlement_pages(self, *, limit: int = MAX_LIMIT) -> AsyncIterator[list[dict[str, Any]]]:
        """The settlements, newest first, page by page."""
        return self.pages("settlements", "settlements", limit=limit)

    async def settlement(self, settlement_id: str) -> dict[str, Any]:
        """One settlement (by id ``stl_…``)."""
        answer = await self.get(f"settlements/{settlement_id}")
        return answer if isinstance(answer, dict) else {}

    async def settlement_members(self, settlement_id: str, kind: str) -> list[dict[str, Any]]:
        """A settlement's ``payments``, ``refunds`` or ``chargebacks``."""
        if kind not in ("payments", "refunds", "chargebacks"):
            raise ValueError(f"unknown settlement member {shown(kind)}")
        return await self.items(f"settlements/{settlement_id}/{kind}", kind)

    async def payment(self, payment_id: str) -> dict[str, Any]:
        """One payment (``tr_…``)."""
        answer = await self.get(f"payments/{payment_id}")
        return answer if isinstance(answer, dict) else {}

    def payment_pages(self, *, limit: int = MAX_LIMIT) -> AsyncIterator[list[dict[str, Any]]]:
        """The payments, newest first, page by page."""
        return self.pages("payments", "payments", limit=limit)

    # -- connection test and options ----------------------------------------------------------------------------

    async def test(self) -> ConnectionTest:
        """Check the address and the key by reading one settlement (nothing is written; Koppel only reads).

        The answer is Koppel's own plain sentence with the HTTP status; Mollie's error text is never repeated.
        """
        try:
            response = await self.request("GET", "settlements", params={"limit": 1}, retry=_QUICK)
            body = response.json()
        except Unreachable as exc:
            return ConnectionTest(False, exc.message, status=0)
        except AuthError as exc:
            if exc.status == 403:
                message = (
                    "Mollie refused the key for settlements (HTTP 403): reading settlements needs an organization "
                    "access token (access_…)."
                )
            else:
                message = f"Mollie refused the key (HTTP {exc.status}): check the API key in Mollie's dashboard."
            return ConnectionTest(False, message, status=exc.status)
        except NotFound as exc:
            return ConnectionTest(
                False, f"{self.api_url} does not answer as Mollie's API (no /v2/settlements).", status=exc.status
            )
        except ApiError as exc:
            return ConnectionTest(False, plain_http_status("Mollie", exc.status), status=exc.status)
        except ValueError:
            body = None
        if not isinstance(body, dict) or ("_embedded" not in body and "count" not in body):
            return ConnectionTest(
                False,
                f"{self.api_url} does not look like Mollie's API: it did not answer with a list of settlements.",
                status=response.status_code,
            )
        mode = "test mode" if self.test_mode else "live"
        return ConnectionTest(True, f"Connected to Mollie ({mode}) at {self.api_url}.", status=response.status_code)
