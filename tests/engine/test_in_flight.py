"""How many invoices a run keeps in flight, counted at the sandbox: without a setting the number follows the
connection's adaptive limit (it grows past the 8 it starts at while Asperion answers quickly; its backing off is
tested in tests/connectors), and a flow's ``concurrency`` setting caps it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.db import Database
from engine.service import create_run, execute_run
from sandbox.faults import Faults
from tests.engine.test_intents import booked_orders, invoices_per_description, simple_flow
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.sandbox_runs import connections


class Counting:
    """Asperion requests being answered at once (measured while the sandbox holds them for its latency)."""

    def __init__(self, faults: Faults) -> None:
        self.now = self.most = 0
        self._before = faults.before

    async def before(self) -> Any:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await self._before()
        finally:
            self.now -= 1


@pytest.fixture(name="sandbox")
def fx_sandbox() -> Iterator[SandboxURL]:
    with running_sandbox(orders=400, customers=60, products=20, seed=11) as base:
        yield base


def count_in_flight(sandbox: SandboxURL, **faults: Any) -> Counting:
    app = sandbox.app
    app.faults.config.update({"latency_ms": 15, "target": "asperion", **faults})
    counting = Counting(app.faults)
    app.faults.before = counting.before  # type: ignore[method-assign]
    return counting


async def run_flow(db: Database, sandbox: SandboxURL, document: dict[str, Any]) -> None:
    run = await create_run(db, document=document, connections=connections(sandbox))
    finished = await execute_run(db, run.id)
    assert finished is not None and finished.status == "succeeded", finished and finished.error
    booked = invoices_per_description(sandbox)
    assert len(booked) == booked_orders(sandbox) and set(booked.values()) == {1}


async def test_without_a_setting_more_invoices_go_out_at_once_while_answers_stay_quick(
    db: Database, sandbox: SandboxURL
) -> None:
    counting = count_in_flight(sandbox)
    document = simple_flow("adaptive")
    del document["settings"]["concurrency"]
    await run_flow(db, sandbox, document)
    assert 8 < counting.most <= 32, "the limit grew past its start of 8, within the connection's ceiling"


async def test_the_flow_setting_caps_the_invoices_in_flight(db: Database, sandbox: SandboxURL) -> None:
    counting = count_in_flight(sandbox)
    await run_flow(db, sandbox, simple_flow("capped", concurrency=3))
    assert counting.most == 3
