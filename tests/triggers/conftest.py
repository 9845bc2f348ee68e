"""Helpers for the trigger, retention, privacy and alert tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fakeredis
import pytest
from arq import ArqRedis

import tests.engine.fakes as fakes
from engine import store
from engine.db import Database
from engine.models import Flow
from nodes.registry import register

for _cls in (fakes.FakeSource, fakes.FakeFilter, fakes.FakeMap, fakes.FakeTarget):
    register(_cls)


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The test's database on SQLite and again on PostgreSQL (the SQL of purge, erase and slots must hold on both)."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_db")  # type: ignore[no-any-return]
    return request.getfixturevalue("db")  # type: ignore[no-any-return]


def fake_queue() -> ArqRedis:
    """An arq queue on an in-memory Redis (jobs land there; nobody runs them)."""
    return ArqRedis(connection_pool=fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()).connection_pool)


async def make_flow(
    db: Database,
    tmp_path: Path,
    *,
    name: str = "test flow",
    items: int = 5,
    trigger: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    active: bool = True,
    **doc_config: Any,
) -> Flow:
    """A stored flow over the test nodes (source file ``<name>.json``, target file ``<name>.jsonl``)."""
    source = tmp_path / f"{name.replace(' ', '_')}.json"
    if not source.exists():
        fakes.write_items(source, items)
    document = fakes.flow_document(source, tmp_path / f"{name.replace(' ', '_')}.jsonl", name=name, **doc_config)
    flow = await store.create_flow(db, document)
    async with db.session() as session, session.begin():
        row = await session.get(Flow, flow.id)
        assert row is not None
        row.trigger = trigger or {"type": "manual"}
        row.settings = settings or {}
        row.active = active
    return await store.get_flow(db, flow.id)


async def posted_flow(client: Any, tmp_path: Path) -> str:
    """The id of a flow (three items read from a file) saved through the API."""
    fakes.write_items(tmp_path / "in.json", 3)
    document = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    response = await client.post("/api/flows", json={"document": document})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
