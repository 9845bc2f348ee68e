"""The sandbox application: both simulators and the control endpoints on one ASGI app.

Layout (relative to wherever the app is served or mounted):
``/woocommerce/wp-json/wc/v3/...`` the store, ``/asperion/...`` the Asperion simulator's own ASGI app,
``/<name>/...`` each simulator of :data:`sandbox.mounts.MOUNTED` (Mollie: ``/mollie/v2/...``),
``/_sandbox/...`` the control endpoints (see :mod:`sandbox.control`). Faults and statistics apply to both
simulators, never to the control endpoints.

Mounting inside another server works with a plain ASGI mount, e.g. in Litestar
``asgi("/sandbox", is_mount=True)(create_sandbox_app())``: absolute URLs (``Link``, ``Location``, webhook
source, ``_links``) are built from the request's scheme, host and mount prefix.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sandbox.control import Control
from sandbox.faults import Faults
from sandbox.http import Request, json_response, read_body, send_response, split_scope
from sandbox.mounts import MOUNTED, MountedSimulator
from sandbox.stats import Stats, template_of
from sandbox.woocommerce import WooSim
from sandbox.woocommerce.articles import asperion_articles

if TYPE_CHECKING:
    from sandbox.asperion import AsperionSim

__all__ = ("SandboxApp", "create_sandbox_app", "load_asperion")

log = logging.getLogger(__name__)


def load_asperion() -> AsperionSim | None:
    """A new Asperion simulator, or None while that package is not available."""
    try:
        from sandbox.asperion import AsperionSim
    except ImportError:
        return None
    try:
        return AsperionSim()
    except Exception:  # pragma: no cover - a broken sibling must not take the store down
        log.exception("could not create the Asperion simulator")
        return None


_DROP_HEADERS = (b"content-type", b"application/json; charset=UTF-8")
_SCOPE_PRIVATE = ("app", "route_handler", "path_params", "path_template", "litestar_app", "state", "router")


class SandboxApp:
    """The ASGI callable serving ``/woocommerce``, ``/asperion``, the mounted simulators and ``/_sandbox``."""

    def __init__(self, woo: WooSim, asperion: AsperionSim | None, faults: Faults, stats: Stats) -> None:
        self.woo = woo
        self.asperion = asperion
        self.faults = faults
        self.stats = stats
        self.mounted: dict[str, MountedSimulator] = {simulator.name: simulator(woo) for simulator in MOUNTED}
        woo.on_webhook = lambda outcome: self.stats.webhooks.update([outcome])
        woo.on_seeded = self._seed_articles
        self.control = Control(self)

    @property
    def state(self) -> SandboxApp:
        """The app itself (``app.state.woo`` / ``app.state.asperion`` for callers that expect a state object)."""
        return self

    def seed(self, orders: int = 0, customers: int = 0, products: int = 0, seed: int = 1) -> dict[str, int]:
        """Seed the store (and the Asperion articles matching its products)."""
        return self.woo.seed(orders=orders, customers=customers, products=products, seed=seed)

    def _seed_articles(self, woo: WooSim) -> None:
        if self.asperion is not None:
            self.asperion.seed_articles(asperion_articles(woo))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        prefix, path = split_scope(scope)
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            req = Request(scope, await read_body(receive), prefix, path)
            await send_response(send, await self.control.handle(req))
            return
        if path == "/woocommerce" or path.startswith("/woocommerce/"):
            await self._woocommerce(scope, receive, send, prefix, path)
            return
        if path == "/asperion" or path.startswith("/asperion/"):
            await self._asperion(scope, receive, send, prefix, path)
            return
        name = path.split("/", 2)[1] if path.startswith("/") else ""
        if name in self.mounted:
            await self._mounted(self.mounted[name], scope, receive, send, prefix, path)
            return
        req = Request(scope, b"", prefix, path)
        if path == "/":
            await send_response(send, json_response(self.control.info(req)))
            return
        await send_response(
            send, json_response({"code": "not_found", "message": "Unknown sandbox path.", "data": {"status": 404}}, 404)
        )

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        """Finish background work and close clients."""
        await self.woo.drain(timeout=2)
        if self.woo._client is not None:
            await self.woo._client.aclose()
            self.woo._client = None

    async def _fault(self, send: Any, method: str, template: str, simulator: str) -> bool:
        """Inject a configured fault; True when the request was answered (or dropped) by it."""
        if not self.faults.active(simulator):
            return False
        kind, resp = await self.faults.before()
        if self.faults.config.latency_ms:
            self.stats.count_fault("latency")
        if kind is None:
            return False
        self.stats.count_fault(kind)
        if resp is None:  # dropped: promise a body, send part of it, end the response
            await send(
                {"type": "http.response.start", "status": 200, "headers": [_DROP_HEADERS, (b"content-length", b"4096")]}
            )
            # more_body=True and return: the server closes the connection mid-body (a dropped connection)
            await send({"type": "http.response.body", "body": b'{"id":', "more_body": True})
            self.stats.count_request(method, template, 0)
            return True
        await send_response(send, resp)
        self.stats.count_request(method, template, resp.status)
        return True

    async def _woocommerce(self, scope: dict[str, Any], receive: Any, send: Any, prefix: str, path: str) -> None:
        rel = path[len("/woocommerce") :] or "/"
        req = Request(scope, await read_body(receive), prefix + "/woocommerce", rel)
        if await self._fault(send, req.method, "/woocommerce" + self.woo.template_for(rel), "woocommerce"):
            return
        resp, template = await self.woo.handle(req)
        self.stats.count_request(req.method, "/woocommerce" + template, resp.status)
        await send_response(send, resp)

    async def _mounted(
        self, simulator: MountedSimulator, scope: dict[str, Any], receive: Any, send: Any, prefix: str, path: str
    ) -> None:
        mount = f"/{simulator.name}"
        rel = path[len(mount) :] or "/"
        req = Request(scope, await read_body(receive), prefix + mount, rel)
        if await self._fault(send, req.method, mount + simulator.template_for(rel), simulator.name):
            return
        resp, template = simulator.handle(req)
        self.stats.count_request(req.method, mount + template, resp.status)
        await send_response(send, resp)

    async def _asperion(self, scope: dict[str, Any], receive: Any, send: Any, prefix: str, path: str) -> None:
        method = scope.get("method", "GET")
        rel = path[len("/asperion") :] or "/"
        if self.asperion is None:
            await send_response(send, json_response({"error": "asperion simulator not available"}, 503))
            self.stats.count_request(method, "/asperion" + template_of(rel), 503)
            return
        if await self._fault(send, method, "/asperion" + template_of(rel), "asperion"):
            return
        root = prefix + "/asperion"
        sub = {k: v for k, v in scope.items() if k not in _SCOPE_PRIVATE}
        sub["path"] = root + rel
        sub["root_path"] = root
        sub["raw_path"] = (root + rel).encode()
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        asperion_app: Any = self.asperion.app
        await asperion_app(sub, receive, send_wrapper)
        template = sub.get("path_template") or template_of(rel)
        if not str(template).startswith("/asperion"):
            template = "/asperion" + template_of(rel)
        self.stats.count_request(method, str(template), status["code"])


def create_sandbox_app(
    *,
    woo: WooSim | None = None,
    asperion: AsperionSim | None = None,
    faults: Faults | None = None,
    stats: Stats | None = None,
) -> SandboxApp:
    """The sandbox ASGI app; simulators default to fresh, empty ones."""
    return SandboxApp(
        woo or WooSim(), asperion if asperion is not None else load_asperion(), faults or Faults(), stats or Stats()
    )
