"""The generic incoming webhook over real HTTP: a running Koppel (embedded worker, SQLite) takes JSON deliveries at
``/hooks/generic/{flow_id}``; a wrong secret is refused and runs nothing; a valid one runs the flow for its payload."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from engine import store
from engine.db import Database
from engine.generic_hooks import hmac_signature
from engine.models import Flow, Run, WebhookDelivery
from engine.settings import Settings
from engine.webhooks import flow_secret
from tests.sandbox.server import serve_app
from tests.triggers.test_webhooks_http import wait_for
from web.app import create_app

pytestmark = pytest.mark.slow


@dataclass
class Hook:
    db: Database
    url: str
    secret: str
    out: Path
    flow_id: str

    async def runs(self) -> list[Run]:
        async with self.db.session() as session:
            return list((await session.execute(select(Run).where(Run.flow_id == self.flow_id))).scalars())

    async def deliveries(self) -> list[WebhookDelivery]:
        async with self.db.session() as session:
            return list((await session.execute(select(WebhookDelivery))).scalars())

    def delivered(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]


@pytest.fixture
async def hook(sqlite_url: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Hook]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("KOPPEL_DEMO", raising=False)
    out = tmp_path / "out.jsonl"
    document = {
        "format": "koppel.flow/1",
        "name": "Webhook to file",
        "nodes": [
            {"id": "in", "type": "webhook.payload", "config": {"records_path": "items"}},
            {"id": "out", "type": "test.target", "config": {"path": str(out)}},
        ],
        "edges": [{"from": "in", "to": "out"}],
        "settings": {},
    }
    flow = await store.create_flow(db, document)
    async with db.session() as session, session.begin():
        row = await session.get(Flow, flow.id)
        assert row is not None
        row.trigger = {"type": "webhook", "catch_up_every_s": 0}
        row.active = True
        secret = flow_secret(row)
    with serve_app(create_app(Settings.from_env())) as koppel:
        yield Hook(db, f"{koppel}/hooks/generic/{flow.id}", secret, out, flow.id)


def items(*ids: str) -> bytes:
    return json.dumps({"items": [{"id": i, "ref": f"webhook:{i}", "value": n} for n, i in enumerate(ids)]}).encode()


async def test_a_wrong_or_missing_secret_is_refused_and_runs_nothing(hook: Hook) -> None:
    body = items("a1")
    async with httpx.AsyncClient(timeout=30) as client:
        answers = [
            await client.post(hook.url, content=body),
            await client.post(hook.url, content=body, headers={"X-Koppel-Token": hook.secret + "x"}),
            await client.post(hook.url, content=body, headers={"X-Koppel-Signature": hmac_signature(body, "guess")}),
            await client.post(
                hook.url, content=items("a2"), headers={"X-Koppel-Signature": hmac_signature(body, hook.secret)}
            ),
        ]
    assert [a.status_code for a in answers] == [401, 401, 401, 401]
    assert hook.secret not in answers[1].text
    assert await hook.runs() == [] and await hook.deliveries() == []


async def test_a_valid_delivery_runs_the_flow_for_its_payload(hook: Hook) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        by_token = await client.post(hook.url, content=items("a1", "a2"), headers={"X-Koppel-Token": hook.secret})
        assert by_token.status_code == 200, by_token.text
        assert by_token.json()["status"] == "queued"
        await wait_for(lambda: len(hook.delivered()) == 2, what="the two records of the first delivery")
        body = items("b1")
        signed = {"X-Koppel-Signature": hmac_signature(body, hook.secret), "X-Koppel-Delivery": "evt-7"}
        await wait_for(_finished(hook), what="the first run to finish")
        by_hmac = await client.post(hook.url, content=body, headers=signed)
        assert by_hmac.status_code == 200, by_hmac.text
        await wait_for(lambda: len(hook.delivered()) == 3, what="the record of the signed delivery")
        replay = await client.post(hook.url, content=body, headers=signed)
        assert replay.status_code == 409
        not_json = await client.post(hook.url, content=b"hello", headers={"X-Koppel-Token": hook.secret})
        assert not_json.status_code == 400
    assert [line["id"] for line in hook.delivered()] == ["a1", "a2", "b1"]
    runs = await hook.runs()
    assert len(runs) == 2 and {r.trigger for r in runs} == {"webhook"}


def _finished(hook: Hook) -> Any:
    async def check() -> bool:
        return all(r.finished_at is not None for r in await hook.runs())

    return check
