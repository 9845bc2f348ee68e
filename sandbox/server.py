"""``koppel sandbox``: serve both simulators on one port, print the URLs and demo credentials."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from sandbox.app import SandboxApp, create_sandbox_app
from sandbox.control import connections
from sandbox.credentials import WOO_READ_KEY, WOO_READ_SECRET, WOO_RW_KEY, WOO_RW_SECRET
from sandbox.faults import FaultConfig, Faults
from sandbox.mounts import MOUNTED
from sandbox.woocommerce.seed import default_customers

__all__ = ("QuietDrops", "build_sandbox", "serve_sandbox", "write_connections")


class QuietDrops(logging.Filter):
    """Injected dropped connections are on purpose: keep uvicorn from reporting each as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()

    @classmethod
    def install(cls) -> None:
        """Add the filter to uvicorn's error logger once."""
        logger = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls())


def write_connections(path: str | Path, base_url: str) -> None:
    """Write the connections file (contracts.md format) for a sandbox at ``base_url``."""
    Path(path).write_text(json.dumps(connections(base_url), indent=2) + "\n", encoding="utf-8")


def build_sandbox(
    orders: int = 0,
    customers: int | None = None,
    products: int | None = None,
    seed: int = 1,
    latency_ms: float = 0,
    fail_rate: float = 0,
    rate_limit: float = 0,
) -> tuple[SandboxApp, dict[str, Any]]:
    """A seeded sandbox app and the seed counts.

    ``customers`` left None means a quarter of ``orders`` (at least 10 when there are orders); ``products`` left
    None means the built-in catalogue when there are orders.
    """
    if customers is None:
        customers = default_customers(orders)
    faults = Faults(FaultConfig(latency_ms=latency_ms or 0, fail_rate=fail_rate or 0, rate_limit_per_s=rate_limit or 0))
    app = create_sandbox_app(faults=faults)
    counts: dict[str, Any] = {}
    if orders or customers or products:
        counts = app.seed(orders or 0, customers or 0, products or 0, seed if seed is not None else 1)
    return app, counts


def serve_sandbox(
    host: str = "127.0.0.1",
    port: int = 8100,
    orders: int = 0,
    customers: int | None = None,
    products: int | None = None,
    seed: int = 1,
    latency_ms: float = 0,
    fail_rate: float = 0,
    rate_limit: float = 0,
    connections_out: str | Path | None = None,
) -> None:
    """Seed, print the URLs and demo credentials, write ``connections_out`` and serve until interrupted.

    Seeding follows :func:`build_sandbox` (customers default to a quarter of the orders); with no counts the
    store starts empty.
    """
    import uvicorn

    started = time.monotonic()
    app, counts = build_sandbox(orders, customers, products, seed, latency_ms, fail_rate, rate_limit)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    base = f"http://{shown_host}:{port}"
    if connections_out:
        write_connections(connections_out, base)
    lines = [
        f"Koppel sandbox on {base}  (seeded in {time.monotonic() - started:.2f}s: {counts or 'empty'})",
        f"  WooCommerce  {base}/woocommerce/wp-json/wc/v3",
        f"               consumer_key={WOO_RW_KEY}",
        f"               consumer_secret={WOO_RW_SECRET}",
        f"               read-only: {WOO_READ_KEY} / {WOO_READ_SECRET}",
        f"  Asperion     {base}/asperion/v1   (token: {base}/asperion/connect/token)"
        + ("" if app.asperion is not None else "  [not available]"),
        *(
            f"  {simulator.name.capitalize():<12} {simulator.api_url(base)}   ({simulator.auth_hint()})"
            for simulator in MOUNTED
        ),
        f"  Control      {base}/_sandbox  (reset, seed, faults, stats, import)",
        f"  try: curl -u {WOO_RW_KEY}:{WOO_RW_SECRET} '{base}/woocommerce/wp-json/wc/v3/orders?per_page=5'",
    ]
    if connections_out:
        lines.append(f"  connections written to {connections_out}")
    print("\n".join(lines), flush=True)
    QuietDrops.install()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    sys.stdout.flush()
