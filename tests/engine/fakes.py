"""Node types for engine tests: a source over a JSON file, a filter on a number, a target that appends to a file.

They use files (not memory) so that worker processes started by a test see the same data. Loaded into the
registry by ``KOPPEL_NODE_MODULES=tests.engine.fakes`` (worker subprocesses) or by importing this module.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from nodes.base import (
    Delivery,
    Kind,
    NeedsMapping,
    NodeConfig,
    Port,
    ProcessNode,
    Record,
    RecordFailed,
    SkipRecord,
    SourceNode,
    TargetNode,
)


class FakeSourceConfig(NodeConfig):
    path: str
    page_size: int = 10
    delay_ms: float = 0


class FakeSource(SourceNode):
    type = "test.source"
    kind = Kind.SOURCE
    title = "Test source"
    config_model = FakeSourceConfig
    outputs = (Port("out", "test.item"),)
    reads_by_id = True

    async def read(self) -> AsyncIterator[list[Record]]:
        config = self.config
        assert isinstance(config, FakeSourceConfig)
        items = json.loads(Path(config.path).read_text())
        wanted = self.ctx.params.get("record_ids")
        cursor = await self.ctx.cursor(self.id).get()
        if wanted:  # an explicit list of records ignores the incremental cursor
            items = [i for i in items if f"item:{i['id']}" in wanted]
        elif cursor is not None:
            items = [i for i in items if i["modified"] > int(cursor)]
        self.stamps: dict[str, int] = {}
        """Source id → its ``modified``, noted when read (as the real sources' cursor trackers do: the records a
        cursor commit gets carry their key and source id only)."""
        for start in range(0, len(items), config.page_size):
            if config.delay_ms:
                await asyncio.sleep(config.delay_ms / 1000)
            page = items[start : start + config.page_size]
            self.stamps.update((f"item:{i['id']}", i["modified"]) for i in page)
            yield [Record(key=f"#{i['id']}", source_id=f"item:{i['id']}", data=i) for i in page]

    async def expected(self) -> int | None:
        assert isinstance(self.config, FakeSourceConfig)
        return len(json.loads(Path(self.config.path).read_text()))

    async def commit_cursor(self, records: list[Record]) -> None:
        if records:
            await self.ctx.cursor(self.id).set(str(max(self.stamps.pop(r.source_id) for r in records)))


class FakeFilterConfig(NodeConfig):
    max_value: int = 1_000_000


class FakeFilter(ProcessNode):
    type = "test.filter"
    kind = Kind.FILTER
    title = "Test filter"
    config_model = FakeFilterConfig
    inputs = (Port("in", "test.item"),)
    outputs = (Port("out", "test.item"),)

    async def process(self, record: Record) -> Record:
        assert isinstance(self.config, FakeFilterConfig)
        if record.data["value"] > self.config.max_value:
            raise SkipRecord(f"value {record.data['value']} is above {self.config.max_value}")
        return record


class FakeMapConfig(NodeConfig):
    table: dict[str, str] = {}


class FakeMap(ProcessNode):
    type = "test.map"
    kind = Kind.MAP
    title = "Test map"
    config_model = FakeMapConfig
    inputs = (Port("in", "test.item"),)
    outputs = (Port("out", "test.doc"),)

    async def process(self, record: Record) -> Record:
        assert isinstance(self.config, FakeMapConfig)
        kind = record.data.get("kind", "plain")
        if kind not in self.config.table:
            raise NeedsMapping("table", kind)
        if record.data.get("broken"):
            raise RuntimeError("broken record")
        return record.derive({"ref": record.source_id, "label": self.config.table[kind], "value": record.data["value"]})


class FakeTargetConfig(NodeConfig):
    path: str
    fail_values: list[int] = []
    delay_ms: float = 0


class FakeTarget(TargetNode):
    """Appends one JSON line per delivery to ``path`` (a stand-in for an application)."""

    type = "test.target"
    kind = Kind.TARGET
    title = "Test target"
    config_model = FakeTargetConfig
    inputs = (Port("in", "test.doc"),)

    def _lines(self) -> list[dict[str, Any]]:
        assert isinstance(self.config, FakeTargetConfig)
        path = Path(self.config.path)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    async def find_existing(self, record: Record) -> str | None:
        for line in self._lines():
            if line["ref"] == record.source_id:
                return str(line["n"])
        return None

    async def build(self, record: Record) -> dict[str, Any]:
        assert isinstance(self.config, FakeTargetConfig)
        if record.data["value"] in self.config.fail_values:
            raise RecordFailed(f"the target refuses value {record.data['value']}")
        return dict(record.data)

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        assert isinstance(self.config, FakeTargetConfig)
        if self.config.delay_ms:
            await asyncio.sleep(self.config.delay_ms / 1000)
        with open(self.config.path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            number = sum(1 for _ in open(self.config.path)) + 1
            handle.write(json.dumps({**payload, "n": number, "pid": os.getpid()}) + "\n")
            handle.flush()
        return Delivery(target_id=str(number), request=payload, response={"n": number})


def write_items(path: Path, count: int, **extra: Any) -> list[dict[str, Any]]:
    items = [{"id": i, "value": i, "modified": i, "kind": "plain", **extra} for i in range(1, count + 1)]
    path.write_text(json.dumps(items))
    return items


def flow_document(source_path: Path, target_path: Path, **config: Any) -> dict[str, Any]:
    return {
        "format": "koppel.flow/1",
        "name": config.pop("name", "test flow"),
        "nodes": [
            {"id": "src", "type": "test.source", "config": {"path": str(source_path), **config.pop("source", {})}},
            {"id": "keep", "type": "test.filter", "config": config.pop("filter", {})},
            {"id": "map", "type": "test.map", "config": {"table": {"plain": "Plain"}, **config.pop("map", {})}},
            {"id": "out", "type": "test.target", "config": {"path": str(target_path), **config.pop("target", {})}},
        ],
        "edges": [{"from": "src", "to": "keep"}, {"from": "keep", "to": "map"}, {"from": "map", "to": "out"}],
        "settings": config.pop("settings", {}),
    }
