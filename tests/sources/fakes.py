"""A NodeContext for source tests, a tiny WooCommerce store and a tiny Asperion behind httpx.MockTransport."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from nodes.base import Record, SourceNode
from nodes.connectors.asperion import AsperionClient
from nodes.connectors.woocommerce import WooCommerceClient

T0 = datetime(2026, 1, 5, 8, 0, 0)


def stamp(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class FakeCursor:
    value: str | None = None
    writes: list[str] = field(default_factory=list)

    async def get(self) -> str | None:
        return self.value

    async def set(self, value: str) -> None:
        self.value = value
        self.writes.append(value)


@dataclass
class FakeContext:
    """What the engine gives a node, reduced to what sources use."""

    clients: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    flow_key: str = "test-flow"
    run_id: str = "run-1"
    dry_run: bool = False
    cache: dict[str, Any] = field(default_factory=dict)
    cursors: dict[str, FakeCursor] = field(default_factory=dict)

    def client(self, connection: str) -> Any:
        return self.clients[connection]

    def cursor(self, node_id: str) -> FakeCursor:
        return self.cursors.setdefault(node_id, FakeCursor())

    def now(self) -> datetime:
        return datetime.now(UTC)


async def run_source(node: SourceNode, *, stop_after_pages: int | None = None) -> list[list[Record]]:
    """Read like the engine: handle each page, then commit the cursor past it."""
    pages: list[list[Record]] = []
    async for page in node.read():
        pages.append(page)
        await node.commit_cursor(page)
        if stop_after_pages is not None and len(pages) >= stop_after_pages:
            break
    return pages


def keys(pages: list[list[Record]]) -> list[str]:
    return [r.key for page in pages for r in page]


class FakeStore:
    """Just enough of wc/v3: orders, customers, products + variations; filters, ordering, paging, totals."""

    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self.customers: list[dict[str, Any]] = []
        self.products: list[dict[str, Any]] = []
        self.variations: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []

    def add_order(self, oid: int, status: str, modified: str, created: str | None = None) -> dict[str, Any]:
        order = {
            "id": oid,
            "number": str(1000 + oid),
            "status": status,
            "date_created_gmt": created or modified,
            "date_modified_gmt": modified,
            "billing": {"email": f"c{oid}@example.nl"},
        }
        self.orders.append(order)
        return order

    def client(self, **opts: Any) -> WooCommerceClient:
        return WooCommerceClient(
            "https://shop.example.test", "ck_t", "cs_t", transport=httpx.MockTransport(self.handle), **opts
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/wp-json/wc/v3/")
        q = request.url.params
        if path == "orders":
            rows = self._filter(self.orders, q)
            statuses = q.get("status", "any").split(",")
            if "any" not in statuses:
                rows = [o for o in rows if o["status"] in statuses]
        elif path == "customers":
            rows = [c for c in self._filter(self.customers, q) if q.get("role", "customer") in ("all", c["role"])]
        elif path == "products":
            rows = self._filter(self.products, q)
            if q.get("type"):
                rows = [p for p in rows if p["type"] == q["type"]]
        elif path.startswith("products/") and path.endswith("/variations"):
            rows = self._filter(self.variations.get(int(path.split("/")[1]), []), q)
        elif path.startswith("products/"):
            pid = int(path.split("/")[1])
            found = [p for p in self.products if p["id"] == pid]
            found += [v for vs in self.variations.values() for v in vs if v["id"] == pid]
            return (
                httpx.Response(200, json=found[0])
                if found
                else httpx.Response(404, json={"code": "x", "message": "Invalid ID."})
            )
        else:
            return httpx.Response(404, json={"code": "rest_no_route", "message": "No route"})
        per, page = int(q.get("per_page", 10)), int(q.get("page", 1))
        chunk = rows[(page - 1) * per : page * per]
        pages = max(1, (len(rows) + per - 1) // per)
        return httpx.Response(200, json=chunk, headers={"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(pages)})

    @staticmethod
    def _filter(rows: list[dict[str, Any]], q: httpx.QueryParams) -> list[dict[str, Any]]:
        if q.get("include"):
            wanted = {int(i) for i in q["include"].split(",")}
            rows = [r for r in rows if r["id"] in wanted]
        if q.get("after"):
            rows = [r for r in rows if r.get("date_created_gmt", "") > q["after"]]
        if q.get("modified_after"):
            rows = [r for r in rows if r["date_modified_gmt"] > q["modified_after"]]
        if q.get("modified_before"):
            rows = [r for r in rows if r["date_modified_gmt"] < q["modified_before"]]
        field = {"modified": "date_modified_gmt", "date": "date_created_gmt"}.get(q.get("orderby", "id"))
        rows = sorted(rows, key=lambda r: (r[field], r["id"]) if field else (r["id"],))
        if q.get("order", "desc") == "desc":
            rows.reverse()
        return rows


class FakeAsperionApi:
    """Articles and sales orders with Asperion's envelope, PascalCase filters and nextPage links."""

    def __init__(self) -> None:
        self.articles: list[dict[str, Any]] = []
        self.sales_orders: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []

    def client(self) -> AsperionClient:
        return AsperionClient(
            "https://api.example.test",
            "https://id.example.test",
            "c",
            "s",
            "r",
            1001,
            transport=httpx.MockTransport(self.handle),
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "id.example.test":
            return httpx.Response(200, json={"access_token": "at", "expires_in": 3600, "refresh_token": "r2"})
        self.requests.append(request)
        q = request.url.params
        if request.url.path == "/v1/articles":
            rows = self.articles
            if q.get("DateLastChange_from"):
                rows = [a for a in rows if (a.get("dateLastChange") or "") >= q["DateLastChange_from"]]
        elif request.url.path.lower() == "/v1/salesorderwithlines":
            rows = [o for o in self.sales_orders if o["id"] >= int(q.get("Id_from", 0))]
            if q.get("Status"):
                rows = [o for o in rows if o["status"] == q["Status"]]
        else:
            return httpx.Response(404, json={"title": "Not found"})
        rows = sorted(rows, key=lambda r: r["id"])
        page, size = int(q.get("page", 1)), int(q.get("pageSize", 25))
        chunk = rows[(page - 1) * size : page * size]
        more = page * size < len(rows)
        meta = {"totalCount": len(rows), "nextPage": str(request.url.copy_set_param("page", page + 1)) if more else ""}
        return httpx.Response(200, json={"_data": chunk, "_meta": meta})
