"""What the filter and map node tests share: a context for nodes that need no connection, and fixture records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nodes.base import Deliveries, Record

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class FakeContext:
    flow_key: str = "test-flow"
    run_id: str = "run-1"
    dry_run: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def client(self, connection: str) -> Any:
        raise AssertionError("this node needs no connection")

    def cursor(self, node_id: str) -> Any:
        raise AssertionError("this node keeps no cursor")

    def now(self) -> datetime:
        return datetime(2025, 3, 10, tzinfo=UTC)

    async def deliveries(self, source_ids: Sequence[str], *, after: Any) -> Deliveries:
        return Deliveries()  # no flow records: the node asks the application


def order_record(name: str = "order-b2b-de.json") -> Record:
    data = json.loads((FIXTURES / name).read_text())
    return Record(key=str(data["number"]), source_id=f"order:{data['id']}", data=data)
