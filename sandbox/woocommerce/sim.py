"""``WooSim``: the simulated store's state and its wc/v3 request dispatch."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from typing import Any

from sandbox.http import Request, Response, Router, dumps, loads, read_body, send_response, split_scope
from sandbox.woocommerce.auth import authenticate
from sandbox.woocommerce.collection import Collection
from sandbox.woocommerce.errors import WooError, no_route
from sandbox.woocommerce.importer import import_payloads
from sandbox.woocommerce.objects import customer_index, customer_links, order_index, product_index, product_links
from sandbox.woocommerce.orders import order_links
from sandbox.woocommerce.routes import register as register_routes
from sandbox.woocommerce.seed import seed_store
from sandbox.woocommerce.store import StoreConfig

__all__ = ("REST_PREFIX", "WooSim")

log = logging.getLogger(__name__)

REST_PREFIX = "/wp-json/wc/v3"

# permission check messages per route kind (WC's *_permissions_check for an anonymous request)
_DENIED: dict[str, tuple[str, str]] = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
    "batch": ("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource."),
}

Handler = Callable[..., Response]


class WooSim:
    """A WooCommerce store speaking wc/v3; call it as an ASGI app or through :meth:`handle`."""

    def __init__(self) -> None:
        self.router = Router()
        self._kinds: dict[tuple[str, str], str] = {}
        self.on_webhook: Callable[[str], None] | None = None
        self.on_seeded: Callable[[WooSim], None] | None = None
        self.webhook_timeout = 60.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._client: Any = None
        self.reset()
        register_routes(self)

    # -- state ----------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Empty the store: no orders, customers, products, coupons, webhooks; default configuration."""
        self.store = StoreConfig()
        self.orders = Collection(order_index, order_links)
        self.orders.on_put = self._note_payment
        self.payments: dict[int, dict[str, str]] = {}
        """Order id → what the customer paid, as it was when the order was paid (``date_paid_gmt``, ``total``,
        ``currency``): a payment provider's payment keeps its amount when the order is edited afterwards."""
        self.products = Collection(product_index, product_links)
        self.variations = Collection(product_index, product_links)
        self.customers = Collection(customer_index, customer_links)
        self.list_cache: dict[tuple[Any, ...], list[int]] = {}
        self.refunds: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.coupons: dict[int, dict[str, Any]] = {}
        self.categories: dict[int, dict[str, Any]] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.stock_reduced: set[int] = set()
        self.next_post_id = 10
        self.next_user_id = 2
        self.next_item_id = 1
        self.next_meta_id = 1
        self.next_comment_id = 1
        self.next_webhook_id = 1

    def _note_payment(self, order: dict[str, Any]) -> None:
        oid, paid = int(order["id"]), order.get("date_paid_gmt")
        if not paid:
            self.payments.pop(oid, None)
        elif (self.payments.get(oid) or {}).get("date_paid_gmt") != paid:
            total, currency = str(order.get("total") or "0"), str(order.get("currency") or "EUR")
            self.payments[oid] = {"date_paid_gmt": str(paid), "total": total, "currency": currency}

    def post_id(self) -> int:
        """Allocate an id from the shared posts sequence (orders, refunds, products, variations, coupons)."""
        self.next_post_id += 1
        return self.next_post_id - 1

    def item_id(self) -> int:
        """Allocate an order item id."""
        self.next_item_id += 1
        return self.next_item_id - 1

    def meta_id(self) -> int:
        """Allocate a meta id."""
        self.next_meta_id += 1
        return self.next_meta_id - 1

    def user_id(self) -> int:
        """Allocate a user (customer) id."""
        self.next_user_id += 1
        return self.next_user_id - 1

    def bump_ids(self) -> None:
        """After verbatim imports: move every sequence past the ids in use."""
        used_posts = [*self.orders.ids(), *self.products.ids(), *self.variations.ids(), *self.refunds, *self.coupons]
        if used_posts:
            self.next_post_id = max(self.next_post_id, max(used_posts) + 1)
        if len(self.customers):
            self.next_user_id = max(self.next_user_id, max(self.customers.ids()) + 1)

    # -- seeding / import (implemented in seed.py / importer.py) -------------------------------------------------
    def seed(self, orders: int = 0, customers: int = 0, products: int = 0, seed: int = 1) -> dict[str, int]:
        """Add a deterministic Dutch shop: see :func:`sandbox.woocommerce.seed.seed_store`."""
        collecting = gc.isenabled()
        gc.disable()  # seeding allocates many long-lived objects; cyclic GC passes would dominate
        try:
            counts = seed_store(self, orders=orders, customers=customers, products=products, seed=seed)
        finally:
            if collecting:
                gc.enable()
        if self.on_seeded is not None and counts.get("products"):
            self.on_seeded(self)
        return counts

    def import_payloads(
        self,
        orders: list[dict[str, Any]] | None = None,
        customers: list[dict[str, Any]] | None = None,
        products: list[dict[str, Any]] | None = None,
    ) -> dict[str, int]:
        """Store real payloads verbatim (ids, totals and all); variations are products with ``type: variation``."""
        return import_payloads(self, orders or [], customers or [], products or [])

    # -- routing --------------------------------------------------------------------------------------------------
    def route(self, method: str, template: str, kind: str) -> Callable[[Handler], Handler]:
        """Register a handler under ``/wp-json/wc/v3`` + ``template`` with a permission ``kind``."""

        def deco(fn: Handler) -> Handler:
            self.router.add(method, REST_PREFIX + template, fn)
            self._kinds[(method, self.router.routes[-1].template)] = kind
            return fn

        return deco

    def template_for(self, path: str) -> str:
        """The route template of ``path`` (for statistics)."""
        return self.router.template_for(path) or path

    async def handle(self, req: Request) -> tuple[Response, str]:
        """Answer one request whose ``path`` is relative to the store's URL; returns the response and template."""
        path = req.path
        if path in ("", "/") and req.arg("rest_route"):
            path = "/wp-json" + (req.arg("rest_route") or "")
            req.path = path
        template = path
        try:
            if not path.startswith("/wp-json/"):
                raise no_route()
            if path.startswith("/wp-json/wc/"):
                permission = authenticate(req)
            elif authenticate(req) is not None:
                raise WooError(
                    "woocommerce_rest_authentication_error",
                    "The provided API key cannot be used to access this endpoint.",
                    401,
                )
            else:
                permission = None
            method = "GET" if req.method == "HEAD" else req.method
            found = self.router.match(method, path)
            if found is None:
                raise no_route()
            route, params = found
            template = route.template
            kind = self._kinds.get((method, route.template), "view")
            if permission is None:
                code, message = _DENIED[kind]
                raise WooError(code, message, 401)
            resp = route.handler(self, req, **params)
            if req.method == "HEAD":
                resp = Response(resp.status, b"", resp.headers)
            if req.method == "GET" and resp.status == 200 and req.arg("_fields"):
                resp = _only_fields(resp, req.arg("_fields") or "")
            return resp, template
        except WooError as exc:
            return exc.response(), template
        except (ValueError, TypeError, KeyError) as exc:
            log.debug("bad request: %s", exc)
            err = WooError("rest_invalid_json", "Invalid JSON body passed.", 400)
            return err.response(), template

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI entry point when the store is served on its own."""
        if scope["type"] != "http":
            return
        prefix, path = split_scope(scope)
        req = Request(scope, await read_body(receive), prefix, path)
        resp, _ = await self.handle(req)
        await send_response(send, resp)

    # -- background work (webhooks) -------------------------------------------------------------------------------
    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for background deliveries (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


def _only_fields(resp: Response, fields: str) -> Response:
    """``_fields=a,b.c``: keep only those fields (top level, or one level down with a dot) and ``_links``."""
    wanted = [f.strip() for f in fields.split(",") if f.strip()]

    def pick(obj: Any) -> Any:
        if not isinstance(obj, dict):
            return obj
        out: dict[str, Any] = {}
        for name in wanted:
            top, _, sub = name.partition(".")
            if top not in obj:
                continue
            if sub and isinstance(obj[top], dict):
                out.setdefault(top, {})
                if sub in obj[top]:
                    out[top][sub] = obj[top][sub]
            else:
                out[top] = obj[top]
        if "_links" in obj:
            out["_links"] = obj["_links"]
        return out

    data = loads(resp.body)
    result = [pick(o) for o in data] if isinstance(data, list) else pick(data)
    return Response(resp.status, dumps(result), resp.headers)
