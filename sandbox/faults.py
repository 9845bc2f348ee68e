"""Injected latency and faults, applied to both simulators (never to ``/_sandbox``).

Kinds: ``latency_ms`` (every request waits), ``rate_limit_per_s`` (over the limit in a one-second window →
429 with ``Retry-After``), ``throttle_rate`` (that share of requests, at random, → 429 with ``Retry-After:
<throttle_retry_after_s>``, as an application that sheds load does), ``fail_rate`` (→ 500/502/503 with a
JSON body), ``timeout_rate`` (the request hangs ``timeout_s`` and then answers 504, so clients with shorter
timeouts see a timeout) and ``drop_rate``
(the connection is cut in the middle of the response: headers announce a body that never completes).
``target`` limits them to one simulator.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from sandbox.http import Response, json_response
from sandbox.mounts import mounted_names

__all__ = ("FaultConfig", "Faults")


@dataclass(slots=True)
class FaultConfig:
    """The fault settings; all off by default."""

    latency_ms: float = 0.0
    fail_rate: float = 0.0
    rate_limit_per_s: float = 0.0
    timeout_rate: float = 0.0
    drop_rate: float = 0.0
    timeout_s: float = 30.0
    throttle_rate: float = 0.0
    throttle_retry_after_s: float = 1.0
    target: str = "all"
    """Which simulator the faults hit: ``all``, ``woocommerce``, ``asperion`` or a mounted one (``mollie``)."""

    def update(self, data: dict[str, Any]) -> list[str]:
        """Apply the known keys of ``data``; return error messages for bad values."""
        errors: list[str] = []
        names = {f.name for f in fields(self)}
        for key, value in data.items():
            if key not in names:
                errors.append(f"unknown setting {key!r}")
                continue
            if key == "target":
                targets = ("all", "woocommerce", "asperion", *mounted_names())
                if value is None or value in targets:
                    self.target = value or "all"
                else:
                    errors.append(f"target must be {', '.join(targets[:-1])} or {targets[-1]}")
                continue
            if value is None:
                value = 0
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(f"{key} must be a number")
                continue
            if value < 0 or (key.endswith("_rate") and value > 1):
                errors.append(f"{key} out of range")
                continue
            setattr(self, key, float(value))
        return errors

    def to_dict(self) -> dict[str, float | str]:
        """As JSON."""
        return asdict(self)


class Faults:
    """Decides per request which fault, if any, to inject."""

    def __init__(self, config: FaultConfig | None = None, seed: int = 0) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(seed)
        self._window = 0
        self._count = 0

    def active(self, simulator: str) -> bool:
        """True when any fault or latency is configured for ``simulator`` (``woocommerce`` / ``asperion``)."""
        c = self.config
        if c.target not in ("all", simulator):
            return False
        return bool(
            c.latency_ms or c.fail_rate or c.rate_limit_per_s or c.timeout_rate or c.drop_rate or c.throttle_rate
        )

    def _rate_limited(self) -> float | None:
        limit = self.config.rate_limit_per_s
        if not limit:
            return None
        now = time.monotonic()
        window = int(now)
        if window != self._window:
            self._window, self._count = window, 0
        self._count += 1
        if self._count > limit:
            return max(1.0, math.ceil(window + 1 - now))
        return None

    async def before(self) -> tuple[str | None, Response | None]:
        """Run before a request: sleeps for latency; returns ``(fault kind, response to send instead)``.

        Kind ``dropped`` comes with no response: the caller must cut the connection.
        """
        c = self.config
        if c.latency_ms:
            await asyncio.sleep(c.latency_ms / 1000)
        retry = self._rate_limited()
        if retry is not None:
            body = {"code": "rate_limited", "message": "Too many requests.", "data": {"status": 429}}
            return "rate_limited", json_response(body, 429, [("Retry-After", str(int(retry)))])
        if c.throttle_rate and self._rng.random() < c.throttle_rate:
            body = {"code": "rate_limited", "message": "Too many requests.", "data": {"status": 429}}
            wait = str(max(0, math.ceil(c.throttle_retry_after_s)))
            return "rate_limited", json_response(body, 429, [("Retry-After", wait)])
        if c.timeout_rate and self._rng.random() < c.timeout_rate:
            await asyncio.sleep(c.timeout_s)
            body = {"code": "gateway_timeout", "message": "Gateway Timeout", "data": {"status": 504}}
            return "timeout", json_response(body, 504)
        if c.drop_rate and self._rng.random() < c.drop_rate:
            return "dropped", None
        if c.fail_rate and self._rng.random() < c.fail_rate:
            status = self._rng.choice((500, 502, 503))
            body = {"code": "internal_server_error", "message": "Simulated server error.", "data": {"status": status}}
            return "failed", json_response(body, status)
        return None, None
