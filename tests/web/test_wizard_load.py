"""The setup wizard on the embedded SQLite database while a run writes: its requests, fired at once as htmx does
(connection tests, steps, the test runs it starts, the polled test results), never answer 500 and never meet
"database is locked"; the run beside them writes every log and idempotency entry."""

from __future__ import annotations

import asyncio
import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from engine import store
from engine.db import Database
from engine.models import IdempotencyEntry, LogEntry, Run
from engine.settings import Settings
from tests.engine.test_intents import simple_flow
from tests.sandbox.server import running_sandbox
from tests.templates.sandbox_runs import connections
from tests.web.conftest import ADMIN
from web.app import create_app

pytestmark = pytest.mark.slow

LOCKED = "database is locked"


class _Form(HTMLParser):
    """The fields a browser would post from the page's form at ``action``, and the ``hx-get`` URLs its elements
    load by themselves (``hx-trigger="load"``: the option lists)."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action, self.inside = action, False
        self.fields: list[tuple[str, str]] = []
        self.loads: list[str] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("hx-post") == self.action
        if a.get("hx-trigger") == "load" and a.get("hx-get"):
            self.loads.append(a["hx-get"])
        if not self.inside:
            return
        if tag == "input" and a.get("name") and (a.get("type") != "checkbox" or "checked" in a):
            self.fields.append((a["name"], a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a.get("name")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields.append((self._textarea, data))
            self._textarea = None


def _post_of(page: str, action: str) -> _Form:
    form = _Form(action)
    form.feed(page)
    return form


async def _csrf(client: AsyncTestClient[Any], path: str, pattern: str) -> str:
    page = await client.get(path)
    found = re.search(pattern, page.text)
    assert found, page.text[:300]
    return found.group(1)


async def _run(db: Database, run_id: str) -> Run:
    async with db.session() as session:
        run = await session.get(Run, run_id)
    assert run is not None
    return run


async def _count(db: Database, column: Any, *where: Any) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count(column)).where(*where))).scalar_one())


async def test_the_wizard_answers_concurrent_requests_while_a_run_writes(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    settings = Settings(var_dir=tmp_path, database_url=sqlite_url, redis_url=None, secret_key="wizard-load-secret")
    db = Database(sqlite_url)
    answers: list[Any] = []
    try:
        with running_sandbox(orders=3000, customers=300, products=20, seed=11) as sandbox:
            specs = connections(sandbox)
            async with AsyncTestClient(create_app(settings)) as client:
                token = await _csrf(client, "/setup", r'name="csrf_token" value="([^"]+)"')
                setup = {"email": ADMIN[0], "password": ADMIN[1], "password2": ADMIN[1], "csrf_token": token}
                assert (await client.post("/setup", data=setup, follow_redirects=False)).status_code == 303
                htmx = {
                    "X-CSRF-Token": await _csrf(client, "/connections", r'X-CSRF-Token": "([^"]+)"'),
                    "HX-Request": "true",
                }
                for name, spec in specs.items():
                    fields = {k: v for k, v in spec.items() if k != "app"}
                    await store.save_connection(db, name=name, app=spec["app"], fields=fields)
                flow = await store.create_flow(db, simple_flow("busy", concurrency=8))
                started = await client.post(f"/api/flows/{flow.id}/runs", json={}, headers=htmx)
                assert started.status_code == 201, started.text
                run = await _run(db, started.json()["id"])
                async with asyncio.timeout(120):  # the run is under way: its log batches are being written
                    while await _count(db, LogEntry.id, LogEntry.run_id == run.id) < 200:
                        await asyncio.sleep(0.05)
                # The shop answers a little slower from now on, so the run is still writing while the wizard's
                # requests come in, however quick the machine (the run had finished first on a quiet one).
                sandbox.app.faults.config.update({"latency_ms": 40})

                woo = {"app": "woocommerce", "existing": "woocommerce"}
                asp = {"app": "asperion", "existing": "asperion", "woo": "woocommerce"}
                state = "woo=woocommerce&asp=asperion"
                chosen = "t=orders-to-sales-invoices&t=customers-to-debtors&t=products-to-articles"
                answers += await asyncio.gather(
                    client.post("/wizard/connection?go=test", data=woo, headers=htmx),
                    client.post("/wizard/connection?go=test", data=asp, headers=htmx),
                    client.get("/wizard?woo=woocommerce"),
                    client.get("/wizard/asperion?woo=woocommerce"),
                    client.get(f"/wizard/flows?{state}"),
                    client.get(f"/wizard/questions?{state}&{chosen}"),
                    client.get(f"/runs/{run.id}"),
                )
                step4 = _post_of(answers[-2].text, "/wizard/create")
                assert ("batch", "") not in step4.fields and step4.loads, answers[-2].text[:300]
                answers += await asyncio.gather(*(client.get(url, headers=htmx) for url in step4.loads))
                form: dict[str, list[str]] = {}
                for key, value in step4.fields:
                    form.setdefault(key, []).append(value)
                batch = form["batch"][0]
                # A double click on "Create and test" beside the step's own reloads.
                created = await asyncio.gather(
                    client.post("/wizard/create", data=form, headers=htmx),
                    client.post("/wizard/create", data=form, headers=htmx),
                    client.get(f"/wizard/questions?{state}&{chosen}&batch={batch}"),
                )
                answers += created
                assert (await _run(db, run.id)).finished_at is None, "the run was writing all along"
                target = created[0].headers.get("HX-Redirect", "")
                assert target.startswith("/wizard/test?"), created[0].text[:300]
                flow_ids = parse_qs(urlsplit(target).query)["flow"]
                async with db.session() as session:
                    test_runs = list(
                        (
                            await session.execute(
                                select(Run.id).where(Run.flow_id.in_(flow_ids), Run.trigger == "test")
                            )
                        ).scalars()
                    )
                assert test_runs
                # Step 5 polls every test run's result while they (and the big run) write.
                for _ in range(15):
                    answers += await asyncio.gather(
                        client.get(target),
                        *(client.get(f"/runs/{test_run}/test-result", headers=htmx) for test_run in test_runs),
                    )
                async with asyncio.timeout(300):
                    while [r for r in [*test_runs, run.id] if (await _run(db, r)).finished_at is None]:
                        answers.append(await client.get(target))
                        await asyncio.sleep(0.2)
                answers.append(await client.get(f"/wizard/activate?flow={flow_ids[0]}"))
        for answer in answers:
            assert answer.status_code < 500, (answer.request.url, answer.text[:300])
            assert LOCKED not in answer.text, answer.request.url
        assert not [r for r in caplog.records if LOCKED in r.getMessage() or LOCKED in str(r.exc_text or "")]
        for test_run in test_runs:
            assert (await _run(db, test_run)).error is None
        finished = await _run(db, run.id)
        assert finished.status == "succeeded", finished.error
        read = finished.counts()["read"]
        assert read > 0 and await _count(db, LogEntry.id, LogEntry.run_id == run.id) == read
        ok = finished.counts()["ok"]
        assert await _count(db, IdempotencyEntry.source_id, IdempotencyEntry.run_id == run.id) == ok
    finally:
        await db.dispose()
