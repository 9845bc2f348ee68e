"""The ``/_sandbox`` control endpoints (contracts.md, "The sandbox").

- ``POST /_sandbox/reset`` empties both simulators (configuration stays); body ``{"apps": ["asperion"]}`` only one.
- ``POST /_sandbox/seed`` ``{"orders", "customers", "products", "seed"}`` adds a deterministic shop (customers
  left out: a quarter of the orders; products left out: the built-in catalogue when there are orders).
- ``GET|PUT /_sandbox/faults`` ``{"latency_ms", "fail_rate", "rate_limit_per_s", "timeout_rate", "drop_rate",
  "timeout_s", "throttle_rate", "throttle_retry_after_s", "target": "all|woocommerce|asperion|<a mounted simulator>"}``.
- ``GET /_sandbox/stats`` request counts per method and path template, faults injected; ``DELETE`` zeroes them.
- ``POST /_sandbox/import`` ``{"orders": [...], "customers": [...], "products": [...]}`` stores payloads verbatim.
- ``POST /_sandbox/simulate`` ``{"days", "seed", "orders_per_day"}`` plus optional rates (``edit_rate``,
  ``cancel_rate``, ``refund_rate``, ``foreign_rate``, ``b2b_rate``, ``virtual_rate``): days of a living shop
  (:mod:`sandbox.woocommerce.life`); answers the counts per kind of event.
- ``POST /_sandbox/asperion/process/{id}`` books an Asperion invoice (delegated to the Asperion simulator).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sandbox.credentials import (
    ASPERION_CLIENT_ID,
    ASPERION_CLIENT_SECRET,
    ASPERION_DEFAULT_TENANT,
    ASPERION_INITIAL_REFRESH_TOKEN,
    WOO_READ_KEY,
    WOO_READ_SECRET,
    WOO_RW_KEY,
    WOO_RW_SECRET,
)
from sandbox.http import Request, Response, json_response
from sandbox.mounts import MOUNTED
from sandbox.woocommerce.life import LifeRates, simulate
from sandbox.woocommerce.seed import default_customers

if TYPE_CHECKING:
    from sandbox.app import SandboxApp

__all__ = ("Control", "connections")

_PROCESS = re.compile(r"^/_sandbox/asperion/process/(\d+)$")


def connections(base_url: str) -> dict[str, Any]:
    """The connections file for a sandbox served at ``base_url`` (contracts.md format)."""
    return {
        "woocommerce": {
            "app": "woocommerce",
            "url": f"{base_url}/woocommerce",
            "consumer_key": WOO_RW_KEY,
            "consumer_secret": WOO_RW_SECRET,
        },
        "asperion": {
            "app": "asperion",
            "url": f"{base_url}/asperion",
            "identity_url": f"{base_url}/asperion",
            "client_id": ASPERION_CLIENT_ID,
            "client_secret": ASPERION_CLIENT_SECRET,
            "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN,
            "tenant_id": ASPERION_DEFAULT_TENANT,
        },
        **{simulator.name: simulator.connection(base_url) for simulator in MOUNTED},
    }


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _count(data: dict[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return value


class Control:
    """Dispatches ``/_sandbox`` requests against the app's simulators, faults and stats."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app

    def info(self, req: Request) -> dict[str, Any]:
        """What ``GET /`` and ``GET /_sandbox`` answer: URLs and demo credentials."""
        base = req.base_url
        return {
            "woocommerce": f"{base}/woocommerce/wp-json/wc/v3",
            "asperion": f"{base}/asperion",
            **{simulator.name: simulator.api_url(base) for simulator in MOUNTED},
            "control": f"{base}/_sandbox",
            "connections": connections(base),
            "read_only_key": {"consumer_key": WOO_READ_KEY, "consumer_secret": WOO_READ_SECRET},
        }

    def seed(self, orders: int, customers: int, products: int, seed: int) -> dict[str, Any]:
        """Seed the store (and the Asperion articles matching its products)."""
        return self.app.seed(orders=orders, customers=customers, products=products, seed=seed)

    async def handle(self, req: Request) -> Response:
        """Answer one control request."""
        path, method = req.path, req.method
        try:
            if path == "/_sandbox" and method == "GET":
                return json_response(self.info(req))
            if path == "/_sandbox/reset" and method == "POST":
                # Optional body {"apps": ["asperion"]} empties only the named simulators (benchmarks replay a store).
                data = req.json() if req.body else None
                apps = set(data.get("apps") or ("woocommerce", "asperion")) if isinstance(data, dict) else None
                apps = apps or {"woocommerce", "asperion"}
                if "woocommerce" in apps:
                    self.app.woo.reset()
                if "asperion" in apps and self.app.asperion is not None:
                    self.app.asperion.reset()
                return json_response({"status": "reset", "apps": sorted(apps)})
            if path == "/_sandbox/seed" and method == "POST":
                data = req.json() or {}
                orders = _count(data, "orders")
                customers = (
                    _count(data, "customers") if data.get("customers") is not None else default_customers(orders)
                )
                args = (orders, customers, _count(data, "products"), _count(data, "seed", 1))
                counts = self.seed(*args)  # blocks the loop while seeding: no request sees half a store
                return json_response({"status": "seeded", **counts})
            if path == "/_sandbox/simulate" and method == "POST":
                data = req.json() if req.body else {}
                if not isinstance(data, dict):
                    return _error(400, "body must be a JSON object")
                done = simulate(
                    self.app.woo,
                    days=_count(data, "days", 1),
                    seed=_count(data, "seed", 1),
                    orders_per_day=_count(data, "orders_per_day", 20),
                    rates=LifeRates.from_body(data),
                )
                return json_response({"status": "simulated", **done})
            if path == "/_sandbox/faults":
                if method == "GET":
                    return json_response(self.app.faults.config.to_dict())
                if method in ("PUT", "POST", "PATCH"):
                    data = req.json()
                    if not isinstance(data, dict):
                        return _error(400, "body must be a JSON object")
                    errors = self.app.faults.config.update(data)
                    if errors:
                        return json_response(
                            {"error": "; ".join(errors), "faults": self.app.faults.config.to_dict()}, 400
                        )
                    return json_response(self.app.faults.config.to_dict())
            if path == "/_sandbox/stats":
                if method == "GET":
                    return json_response(self.app.stats.to_dict())
                if method == "DELETE":
                    self.app.stats.reset()
                    return json_response(self.app.stats.to_dict())
            if path == "/_sandbox/import" and method == "POST":
                data = req.json()
                if not isinstance(data, dict):
                    return _error(400, "body must be a JSON object")
                counts = self.app.woo.import_payloads(
                    data.get("orders") or [], data.get("customers") or [], data.get("products") or []
                )
                return json_response({"status": "imported", **counts})
            match = _PROCESS.match(path)
            if match and method == "POST":
                if self.app.asperion is None:
                    return _error(503, "asperion simulator not available")
                tenant = int(req.arg("tenant_id") or req.headers.get("x-tenant-id") or ASPERION_DEFAULT_TENANT)
                result = self.app.asperion.process_invoice(int(match.group(1)), tenant_id=tenant)
                return json_response(result)
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))
        except KeyError as exc:
            return _error(404, f"not found: {exc}")
        return _error(404, f"no control endpoint {method} {path}")
