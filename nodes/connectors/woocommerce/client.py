"""The WooCommerce REST API (wc/v3) client: key + secret auth, lazy paging, batches, a connection test, option lists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from nodes.connectors.base import plain_http_status
from nodes.connectors.http import (
    ApiError,
    AppClient,
    AuthError,
    ConnectionTest,
    NotFound,
    Option,
    RetryPolicy,
    Unreachable,
    is_loopback,
)
from nodes.texts import shown

__all__ = ("CORE_ORDER_STATUSES", "BatchItemError", "BatchResult", "WooCommerceClient")

MAX_PER_PAGE = 100
BATCH_LIMIT = 100
_QUICK = RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=2.0, max_total_wait=4.0)

CORE_ORDER_STATUSES: tuple[tuple[str, str], ...] = (
    ("pending", "Pending payment"),
    ("processing", "Processing"),
    ("on-hold", "On hold"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
    ("refunded", "Refunded"),
    ("failed", "Failed"),
    ("checkout-draft", "Draft"),
)
"""WooCommerce core's order statuses (slug, label), used when the store does not list its own."""


@dataclass(frozen=True)
class BatchItemError:
    """One element of a batch that WooCommerce refused while the others went through."""

    action: str
    """``create``, ``update`` or ``delete``."""
    index: int
    """Position in the list passed to :meth:`WooCommerceClient.batch`."""
    id: int | None
    code: str
    message: str


@dataclass
class BatchResult:
    """What a batch did, in the order of the lists passed in (failed elements are in :attr:`errors`)."""

    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    errors: list[BatchItemError] = field(default_factory=list)


def _query(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """WordPress reads lists as comma-separated values and booleans as ``true``/``false``."""
    query: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            query[key] = "true" if value else "false"
        elif isinstance(value, list | tuple | set | frozenset):
            query[key] = ",".join(str(v) for v in value)
        else:
            query[key] = value
    return query


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _second_before(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp.rstrip("Z")[:19])
    return (moment - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")


class WooCommerceClient(AppClient):
    """A WooCommerce store's REST API.

    Args:
        url: the store's address (``https://shop.example``); the REST base is ``{url}/wp-json/wc/v3``.
        consumer_key: the key (``ck_...``).
        consumer_secret: the secret (``cs_...``).
        **opts: :class:`~nodes.connectors.http.ApiClient` options (concurrency, timeout, retry, transport, ...).

    Raises:
        ValueError: for plain HTTP to another machine (WooCommerce accepts key + secret only over HTTPS).
    """

    app_label = "WooCommerce"

    def __init__(self, url: str, consumer_key: str, consumer_secret: str, **opts: Any) -> None:
        url = url.strip().rstrip("/")
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"the store address must start with https:// (got {shown(url)})")
        if url.startswith("http://") and not is_loopback(url):
            raise ValueError("WooCommerce accepts a consumer key and secret only over HTTPS: use the https:// address")
        if not consumer_key or not consumer_secret:
            raise ValueError("a consumer key and a consumer secret are required")
        self.store_url = url
        secrets = [consumer_secret, *opts.pop("secrets", ())]
        opts.setdefault("auth", httpx.BasicAuth(consumer_key, consumer_secret))
        super().__init__(f"{url}/wp-json/wc/v3", secrets=secrets, **opts)
        self._cache: dict[str, Any] = {}

    def parse_error_body(self, body: Any) -> tuple[str, dict[str, list[str]]]:
        """WordPress errors: ``{"code", "message", "data": {"status", "params", "details"}}``."""
        if not isinstance(body, dict) or "message" not in body:
            return super().parse_error_body(body)
        message = str(body.get("message") or body.get("code") or "")
        fields: dict[str, list[str]] = {}
        data = body.get("data")
        if isinstance(data, dict):
            params = data.get("params")
            if isinstance(params, dict):
                fields = {str(k): [str(v)] for k, v in params.items()}
        return message, fields

    # -- plain calls --------------------------------------------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to wc/v3) and return the JSON."""
        return await self.request_json("GET", path, params=_query(params))

    async def post(self, path: str, json: Any, params: Mapping[str, Any] | None = None) -> Any:
        """POST ``json`` to ``path`` and return the JSON answer (the created object)."""
        return await self.request_json("POST", path, json=json, params=_query(params))

    async def put(self, path: str, json: Any, params: Mapping[str, Any] | None = None) -> Any:
        """PUT ``json`` to ``path`` and return the updated object."""
        return await self.request_json("PUT", path, json=json, params=_query(params))

    async def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """DELETE ``path`` (pass ``{"force": True}`` for types that cannot be trashed)."""
        return await self.request_json("DELETE", path, params=_query(params))

    # -- paging -------------------------------------------------------------------------------------------------

    async def pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, per_page: int = MAX_PER_PAGE
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The collection page by page, fetched lazily (follows ``X-WP-TotalPages``, else ``Link: rel=next``).

        Pass ``orderby=id`` (or ``date``, to which WooCommerce appends the id) for a stable order.
        Empty pages are not yielded.
        """
        query = _query(params)
        query["per_page"] = max(1, min(per_page, MAX_PER_PAGE))
        page = int(query.pop("page", 1))
        while True:
            query["page"] = page
            response = await self.request("GET", path, params=query)
            items = self._list_of(path, response)
            if items:
                yield items
            total_pages = _int_header(response, "X-WP-TotalPages")
            if not items:
                break
            if total_pages is not None:
                if page >= total_pages:
                    break
            elif "Link" in response.headers:
                if "next" not in response.links:
                    break
            elif len(items) < query["per_page"]:
                break
            page += 1

    async def modified_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        modified_after: str | None = None,
        modified_before: str | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The collection in ascending ``date_modified_gmt`` order, keyset-paged.

        Each request asks for what was modified after the last page's newest stamp (minus one second, as the
        stamps have whole seconds; ids already seen in that second are dropped), so objects changing while the
        read goes on never shift a page and make it skip one. A run of more than ``per_page`` objects sharing
        one second is walked with page numbers. Dates are GMT, ``YYYY-MM-DDTHH:MM:SS``.
        """
        base = _query(params)
        base.update(orderby="modified", order="asc", dates_are_gmt="true", per_page=max(1, min(per_page, 100)))
        if modified_before:
            base["modified_before"] = modified_before
        newest: str | None = None
        seen: set[int] = set()
        page = 1
        while True:
            query = dict(base, page=page)
            boundary = _second_before(newest) if newest else modified_after
            if boundary:
                query["modified_after"] = boundary
            items = self._list_of(path, await self.request("GET", path, params=query))
            if not items:
                break
            if boundary and any(str(item.get("date_modified_gmt") or "") <= boundary for item in items):
                raise ApiError(
                    200,
                    f"The store ignores the modified_after filter on {path} (WooCommerce 5.8 or newer is needed "
                    "to read changes incrementally); read by id or date instead.",
                )
            fresh = [item for item in items if item.get("id") not in seen]
            if fresh:
                yield fresh
            if len(items) < base["per_page"]:
                break
            last = str(items[-1].get("date_modified_gmt") or "")
            if not last:
                raise ApiError(200, f"WooCommerce gave {path} objects without date_modified_gmt; cannot page by it")
            if newest is None or last > newest:
                newest, page = last, 1
                seen = {item["id"] for item in items if item.get("date_modified_gmt") == last}
            else:
                seen.update(item["id"] for item in items)
                page += 1

    def _list_of(self, path: str, response: httpx.Response) -> list[dict[str, Any]]:
        items = self.json_of("GET", path, response)
        if not isinstance(items, list):
            raise ApiError(
                response.status_code,
                f"WooCommerce answered {path} with {type(items).__name__}, not a list: is this a WooCommerce store?",
                None,
            )
        return items

    async def total(self, path: str, params: Mapping[str, Any] | None = None) -> int:
        """How many objects the collection holds for ``params`` (``X-WP-Total``), without fetching them."""
        query = _query(params)
        query.update(per_page=1, page=1, _fields="id")
        response = await self.request("GET", path, params=query)
        total = _int_header(response, "X-WP-Total")
        if total is None:
            return len(self._list_of(path, response))
        return total

    # -- batches ------------------------------------------------------------------------------------------------

    async def batch(
        self,
        path: str,
        create: Sequence[dict[str, Any]] = (),
        update: Sequence[dict[str, Any]] = (),
        delete: Sequence[int] = (),
    ) -> BatchResult:
        """``POST {path}/batch`` in chunks of at most 100 elements; elements WooCommerce refused go to ``errors``.

        Args:
            path: the collection (``products``, ``products/12/variations``, ``orders``...).
            create: objects to create.
            update: objects to update (each with its ``id``).
            delete: ids to delete (always permanently).
        """
        items: list[tuple[str, int, Any]] = [("create", i, x) for i, x in enumerate(create)]
        items += [("update", i, x) for i, x in enumerate(update)]
        items += [("delete", i, x) for i, x in enumerate(delete)]
        result = BatchResult()
        for start in range(0, len(items), BATCH_LIMIT):
            chunk = items[start : start + BATCH_LIMIT]
            body: dict[str, list[Any]] = {}
            for action, _, item in chunk:
                body.setdefault(action, []).append(item)
            answer = await self.post(f"{path.rstrip('/')}/batch", body)
            answer = answer if isinstance(answer, dict) else {}
            for action in ("create", "update", "delete"):
                sent = [(i, x) for a, i, x in chunk if a == action]
                self._collect(result, action, sent, answer.get(action) or [])
        return result

    @staticmethod
    def _collect(result: BatchResult, action: str, sent: list[tuple[int, Any]], got: list[Any]) -> None:
        done = {"create": result.created, "update": result.updated, "delete": result.deleted}[action]
        for (index, item), answer in zip(sent, got, strict=False):
            if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
                error = answer["error"]
                item_id = answer.get("id") or (item.get("id") if isinstance(item, dict) else item)
                result.errors.append(
                    BatchItemError(
                        action,
                        index,
                        int(item_id) if item_id else None,
                        str(error.get("code", "")),
                        str(error.get("message", "")),
                    )
                )
            elif isinstance(answer, dict):
                done.append(answer)

    # -- connection test ----------------------------------------------------------------------------------------

    async def test(self) -> ConnectionTest:
        """Check address, key and secret, and whether the key may write (without writing anything)."""
        try:
            response = await self.request("GET", "orders", params={"per_page": 1, "_fields": "id"}, retry=_QUICK)
            self._list_of("orders", response)
        except Unreachable as exc:
            return ConnectionTest(False, exc.message, status=0)
        except AuthError as exc:
            return ConnectionTest(False, self._auth_problem(exc), status=exc.status)
        except NotFound as exc:
            return ConnectionTest(False, self._not_found_problem(exc), status=exc.status)
        except ApiError as exc:
            if exc.status < 300:
                return ConnectionTest(
                    False,
                    f"{self.store_url} does not look like a WooCommerce store: it did not answer with a list of "
                    "orders.",
                    status=exc.status,
                )
            return ConnectionTest(False, self._plain(exc), status=exc.status)
        can_write = await self._can_write()
        rights = {True: "read and write", False: "read only", None: "unknown"}[can_write]
        return ConnectionTest(
            True,
            f"Connected to the WooCommerce store at {self.store_url} (permissions: {rights}).",
            can_write,
            status=response.status_code,
        )

    async def _can_write(self) -> bool | None:
        # An empty batch changes nothing; WooCommerce checks the write permission before looking at the body.
        try:
            await self.request("POST", "orders/batch", json={}, retry=_QUICK)
        except AuthError as exc:
            return False if "write" in exc.message.lower() or exc.status in (401, 403) else None
        except ApiError:
            return None
        return True

    def _auth_problem(self, exc: AuthError) -> str:
        body = exc.body if isinstance(exc.body, dict) else {}
        code, text = str(body.get("code", "")), str(body.get("message", "")).lower()
        if "secret is invalid" in text:
            return "The consumer secret is wrong for this consumer key."
        if "consumer key is invalid" in text or code in ("woocommerce_rest_cannot_view", "rest_forbidden"):
            return (
                "WooCommerce does not know this consumer key (it treated the request as an anonymous visitor). "
                "Check the key, or create one under WooCommerce → Settings → Advanced → REST API."
            )
        if exc.status == 403:
            return (
                "The key's user may not read orders: give the key a user with the shop manager or administrator role."
            )
        return plain_http_status("WooCommerce", exc.status)

    def _not_found_problem(self, exc: NotFound) -> str:
        body = exc.body if isinstance(exc.body, dict) else {}
        if body.get("code") == "rest_no_route":
            return (
                f"WordPress answers at {self.store_url}, but the WooCommerce REST API (wc/v3) is missing: "
                "is WooCommerce installed and active?"
            )
        return (
            f"{self.store_url} does not look like a WooCommerce store ({self.base_url} does not exist). "
            "Check the address, and that the site's permalinks are not set to 'Plain'."
        )

    # -- option lists for the canvas ----------------------------------------------------------------------------

    async def _cached(self, key: str, path: str) -> list[dict[str, Any]]:
        if key not in self._cache:
            answer = await self.get(path)
            self._cache[key] = answer if isinstance(answer, list) else []
        return list(self._cache[key])

    async def order_statuses(self) -> list[dict[str, Any]]:
        """The store's order statuses as ``{"slug", "name"}`` (core's list when the store does not tell)."""
        if "order_statuses" not in self._cache:
            try:
                rows = await self.get("reports/orders/totals")
                statuses = [{"slug": r["slug"], "name": r.get("name") or r["slug"]} for r in rows if "slug" in r]
            except (NotFound, AuthError, KeyError, TypeError):
                statuses = []
            self._cache["order_statuses"] = statuses or [{"slug": s, "name": n} for s, n in CORE_ORDER_STATUSES]
        return list(self._cache["order_statuses"])

    async def payment_gateways(self) -> list[dict[str, Any]]:
        """``GET /payment_gateways``: ``id``, ``title``, ``enabled``, ..."""
        return await self._cached("payment_gateways", "payment_gateways")

    async def shipping_methods(self) -> list[dict[str, Any]]:
        """``GET /shipping_methods``: ``id``, ``title``, ``description``."""
        return await self._cached("shipping_methods", "shipping_methods")

    async def tax_classes(self) -> list[dict[str, Any]]:
        """``GET /taxes/classes``: ``slug``, ``name`` (``standard`` is the empty tax class of products)."""
        return await self._cached("tax_classes", "taxes/classes")

    async def countries(self) -> list[dict[str, Any]]:
        """``GET /data/countries``: ``code``, ``name``, ``states``."""
        return await self._cached("countries", "data/countries")

    async def options(self, kind: str) -> list[Option]:
        """Choices for a select box: ``order_statuses``, ``payment_gateways``, ``shipping_methods``,
        ``tax_classes`` or ``countries``.

        Raises:
            KeyError: for another kind.
        """
        if kind == "order_statuses":
            return [Option(value=s["slug"], label=s["name"]) for s in await self.order_statuses()]
        if kind == "payment_gateways":
            return [
                Option(value=str(g["id"]), label=str(g.get("title") or g.get("method_title") or g["id"]))
                for g in await self.payment_gateways()
            ]
        if kind == "shipping_methods":
            return [
                Option(value=str(m["id"]), label=str(m.get("title") or m["id"])) for m in await self.shipping_methods()
            ]
        if kind == "tax_classes":
            return [
                Option(value=str(c["slug"]), label=str(c.get("name") or c["slug"])) for c in await self.tax_classes()
            ]
        if kind == "countries":
            return [Option(value=str(c["code"]), label=str(c.get("name") or c["code"])) for c in await self.countries()]
        raise KeyError(f"unknown WooCommerce option list {shown(kind)}")
