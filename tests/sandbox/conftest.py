"""Fixtures for the WooCommerce simulator tests: one sandbox server per module, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.credentials import WOO_RW_KEY, WOO_RW_SECRET
from tests.sandbox.server import SandboxURL, running_sandbox

REST = "/woocommerce/wp-json/wc/v3"


@pytest.fixture(name="sandbox_url", scope="module")
def fx_sandbox_url() -> Iterator[SandboxURL]:
    with running_sandbox() as url:
        yield url


@pytest.fixture(name="sandbox")
def fx_sandbox(sandbox_url: SandboxURL) -> SandboxURL:
    """The module's sandbox, reset (empty store, no faults) before the test."""
    with httpx.Client(base_url=sandbox_url) as control:
        assert control.post("/_sandbox/reset").status_code == 200
        assert (
            control.put(
                "/_sandbox/faults",
                json={
                    "latency_ms": 0,
                    "fail_rate": 0,
                    "rate_limit_per_s": 0,
                    "timeout_rate": 0,
                    "drop_rate": 0,
                    "target": "all",
                },
            ).status_code
            == 200
        )
    return sandbox_url


@pytest.fixture(name="woo")
def fx_woo(sandbox: SandboxURL) -> Iterator[httpx.Client]:
    """An authenticated (read/write key, HTTP Basic) client on the store's REST base."""
    with httpx.Client(base_url=sandbox + REST, auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=20) as client:
        yield client


@pytest.fixture(name="control")
def fx_control(sandbox: SandboxURL) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox + "/_sandbox", timeout=60) as client:
        yield client
