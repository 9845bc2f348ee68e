"""Fixtures for target tests: the sandbox (over a real socket when tests/sandbox/server.py is there, else in-process
through httpx's ASGI transport), the real connector clients pointed at it, and a helper that drives a target the way
the engine does (find existing → build → send; a dry run stops after build)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest

from nodes.base import Delivery, Record, RecordProblem, SkipRecord, TargetNode
from nodes.connectors import make_client
from tests.targets.fakes import FakeContext

ASGI_BASE = "http://127.0.0.1:9"  # never dialled: the ASGI transport answers in-process


@dataclass
class Sandbox:
    base_url: str
    transport: httpx.AsyncBaseTransport | None

    def connections(self) -> dict[str, Any]:
        from sandbox.control import connections  # the sandbox is imported only by tests that use it

        return connections(self.base_url)

    def control(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, transport=self.transport, timeout=30)

    def client(
        self,
        app: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        opts: dict[str, Any] | None = None,
        **spec: Any,
    ) -> Any:
        """A real connector client for the sandbox (``spec`` overrides connection fields, e.g. a wrong secret)."""
        opts = dict(opts or {})
        if transport or self.transport:
            opts["transport"] = transport or self.transport
        return make_client(app, {**self.connections()[app], **spec}, **opts)


def _socket_server() -> Any:
    with contextlib.suppress(ImportError):
        module = importlib.import_module("tests.sandbox.server")
        for name in ("running_sandbox", "sandbox_server", "serve_sandbox", "run_sandbox"):
            if hasattr(module, name):
                return getattr(module, name)
    return None


@pytest.fixture(name="sandbox", scope="module")
def fx_sandbox() -> Iterator[Sandbox]:
    """The sandbox on a free port when the shared helper exists, else the same app in-process."""
    server = _socket_server()
    if server is not None:
        with server() as handle:
            url = handle if isinstance(handle, str) else getattr(handle, "url", None) or handle.base_url
            yield Sandbox(str(url).rstrip("/"), None)
        return
    from sandbox.app import create_sandbox_app

    yield Sandbox(ASGI_BASE, httpx.ASGITransport(app=cast(Any, create_sandbox_app())))


@pytest.fixture(name="fresh")
async def fx_fresh(sandbox: Sandbox) -> AsyncIterator[Sandbox]:
    """The sandbox emptied (Asperion back to its seeded administration) before the test."""
    async with sandbox.control() as control:
        answer = await control.post("/_sandbox/reset")
        assert answer.status_code == 200, answer.text
    yield sandbox


@pytest.fixture(name="asperion")
async def fx_asperion(fresh: Sandbox) -> AsyncIterator[Any]:
    client = fresh.client("asperion")
    yield client
    await client.aclose()


@pytest.fixture(name="woocommerce")
async def fx_woocommerce(fresh: Sandbox) -> AsyncIterator[Any]:
    client = fresh.client("woocommerce")
    yield client
    await client.aclose()


@dataclass
class Outcome:
    status: str  # ok | skipped | would send | failed
    delivery: Delivery | None = None
    payload: dict[str, Any] | None = None
    message: str = ""
    target_id: str | None = None


async def deliver(target: TargetNode, record: Record, *, dry_run: bool = False) -> Outcome:
    """Drive a target as the engine does, returning what the run log would say."""
    try:
        existing = await target.find_existing(record)
        if existing is not None:
            return Outcome("skipped", message=f"already exists as {existing}", target_id=existing)
        payload = await target.build(record)
        if dry_run:
            return Outcome("would send", payload=payload)
        delivery = await target.send(record, payload)
    except SkipRecord as skip:
        return Outcome("skipped", message=skip.message, target_id=skip.target_id)
    except RecordProblem as problem:
        return Outcome(problem.status, message=problem.message)
    message = delivery.message or target.outcome(record, delivery.target_id) or f"delivered as {delivery.target_id}"
    return Outcome("ok", delivery=delivery, payload=payload, message=message, target_id=delivery.target_id)


def make_target(cls: type[TargetNode], clients: dict[str, Any], *, dry_run: bool = False, **config: Any) -> Any:
    return cls("target", cls.config_model(**config), FakeContext(clients, dry_run=dry_run))


class LoseAnswers(httpx.AsyncBaseTransport):
    """Passes requests on, but for the first ``count`` matching ones drops the answer after the server handled them
    (what a read timeout after a successful POST looks like to the client)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, method: str, path_part: str, count: int = 1) -> None:
        self.inner = inner
        self.method = method
        self.path_part = path_part
        self.left = count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.left and request.method == self.method and self.path_part in request.url.path:
            self.left -= 1
            await response.aread()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def inner_transport(sandbox: Sandbox) -> httpx.AsyncBaseTransport:
    """A transport reaching the sandbox, to wrap."""
    return sandbox.transport or httpx.AsyncHTTPTransport()
