"""A sandbox served over real HTTP for tests: uvicorn in a background thread on a free loopback port.

Reusable by any test package::

    from tests.sandbox.server import running_sandbox

    with running_sandbox(orders=50, seed=3) as base_url:      # "http://127.0.0.1:<port>"
        httpx.get(f"{base_url}/woocommerce/wp-json/wc/v3/orders", auth=(WOO_RW_KEY, WOO_RW_SECRET))

The yielded URL is a ``str`` that also carries ``.app`` (the :class:`sandbox.app.SandboxApp`) for direct access.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from sandbox.app import SandboxApp, create_sandbox_app
from sandbox.server import QuietDrops

__all__ = ("SandboxURL", "free_port", "read_body", "running_sandbox", "serve_app")


class SandboxURL(str):
    """The base URL of a running sandbox, with the app attached."""

    app: SandboxApp
    __slots__ = ("app",)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def read_body(receive: Any) -> bytes:
    """The whole request body an ASGI app receives (every ``http.request`` message)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


@contextmanager
def serve_app(app: Any, port: int = 0) -> Iterator[str]:
    """Serve any ASGI app in a thread on ``port`` (0: a free one); yields ``http://127.0.0.1:<port>``."""
    QuietDrops.install()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def running_sandbox(
    orders: int = 0, customers: int = 0, products: int = 0, seed: int = 1, app: SandboxApp | None = None
) -> Iterator[SandboxURL]:
    """A sandbox (seeded when counts are given) on a free port; yields its base URL."""
    sandbox = app or create_sandbox_app()
    if orders or customers or products:
        sandbox.seed(orders=orders, customers=customers, products=products, seed=seed)
    with serve_app(sandbox) as url:
        handle = SandboxURL(url)
        handle.app = sandbox
        yield handle
