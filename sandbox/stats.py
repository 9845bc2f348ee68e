"""Request and fault counters of the sandbox (``GET /_sandbox/stats``)."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

__all__ = ("Stats", "template_of")

_NUMERIC = re.compile(r"/\d+(?=/|$)")


def template_of(path: str) -> str:
    """A path template for a path no router named: numeric segments become ``{id}``."""
    return _NUMERIC.sub("/{id}", path)


class Stats:
    """Counts requests per ``METHOD /path/template`` and faults per kind."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.webhooks: Counter[str] = Counter()
        self.started = time.monotonic()

    def reset(self) -> None:
        """Zero every counter."""
        self.requests.clear()
        self.statuses.clear()
        self.faults.clear()
        self.webhooks.clear()
        self.started = time.monotonic()

    def count_request(self, method: str, template: str, status: int) -> None:
        """Record one answered request."""
        self.requests[f"{method} {template}"] += 1
        self.statuses[status] += 1

    def count_fault(self, kind: str) -> None:
        """Record one injected fault (``latency``, ``rate_limited``, ``failed``, ``timeout``, ``dropped``)."""
        self.faults[kind] += 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``GET /_sandbox/stats``."""
        return {
            "total_requests": sum(self.requests.values()),
            "requests": dict(sorted(self.requests.items())),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "faults": dict(sorted(self.faults.items())),
            "faults_injected": sum(v for k, v in self.faults.items() if k != "latency"),
            "webhooks": dict(sorted(self.webhooks.items())),
            "uptime_s": round(time.monotonic() - self.started, 3),
        }
