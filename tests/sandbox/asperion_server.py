"""Fixtures for the Asperion simulator tests: the simulator mounted under a prefix, served by uvicorn over real HTTP.

Test modules import the fixtures they use (``from tests.sandbox.asperion_server import asp, asperion_live``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar, asgi

from sandbox.asperion import AsperionSim
from tests.sandbox.server import serve_app

__all__ = ("Api", "Live", "asp", "asperion_live", "mounted", "serve")


serve = serve_app
"""Serve an ASGI app with uvicorn in a background thread on a free loopback port (the sandbox tests' helper)."""


def mounted(sim: AsperionSim, prefix: str) -> Litestar:
    """A tiny Litestar app with the simulator mounted under ``prefix``, as the sandbox does.

    Args:
        sim: The simulator.
        prefix: The mount path, e.g. ``"/asperion"``.

    Returns:
        The app.
    """
    return Litestar([asgi(prefix, is_mount=True, copy_scope=True)(sim.app)], openapi_config=None)


@dataclass
class Live:
    """A running simulator: the object and the URL it is served at."""

    sim: AsperionSim
    url: str
    """The simulator's root URL (API under ``{url}/v1``, identity under ``{url}/connect``)."""


@dataclass
class Api:
    """What a test uses: the simulator, its URL and an authenticated client for administration 1001."""

    sim: AsperionSim
    url: str
    token: str
    client: httpx.Client

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET below the simulator's root."""
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST below the simulator's root."""
        return self.client.post(path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        """PUT below the simulator's root."""
        return self.client.put(path, **kwargs)


@pytest.fixture(scope="module")
def asperion_live() -> Iterator[Live]:
    """One simulator per test module, mounted under ``/asperion`` and served over HTTP."""
    sim = AsperionSim()
    with serve(mounted(sim, "/asperion")) as base:
        yield Live(sim, f"{base}/asperion")


@pytest.fixture
def asp(asperion_live: Live) -> Iterator[Api]:
    """The running simulator, freshly reset, with a client holding a valid bearer token."""
    sim = asperion_live.sim
    sim.reset()
    token = sim.issue_access_token()
    with httpx.Client(base_url=asperion_live.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        yield Api(sim, asperion_live.url, token, client)
