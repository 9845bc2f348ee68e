"""Log-in throttling counts every failure, also when many arrive at once (PostgreSQL and SQLite)."""

from __future__ import annotations

import asyncio

import pytest

from engine.db import Database
from engine.models import LoginThrottle
from web.auth import FREE_FAILURES, clear_failures, login_wait, record_failure, throttle_keys


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Database:
    if request.param == "postgres":
        return request.getfixturevalue("pg_db")  # type: ignore[no-any-return]
    return request.getfixturevalue("db")  # type: ignore[no-any-return]


async def test_parallel_failures_are_all_counted_and_block(any_db: Database) -> None:
    keys = throttle_keys("Someone@Example.com", "10.0.0.7")
    assert await login_wait(any_db, keys) == 0
    if any_db.is_sqlite:
        for _ in range(8):
            await record_failure(any_db, keys)
    else:
        await asyncio.gather(*(record_failure(any_db, keys) for _ in range(8)))
    async with any_db.session() as session:
        row = await session.get(LoginThrottle, "account:someone@example.com")
    assert row is not None and row.failures == 8
    wait = await login_wait(any_db, keys)
    assert 2 ** (8 - FREE_FAILURES) - 1 <= wait <= 2 ** (8 - FREE_FAILURES) + 1
    await clear_failures(any_db, keys)
    assert await login_wait(any_db, keys) == 0


async def test_few_failures_do_not_block(any_db: Database) -> None:
    keys = throttle_keys("a@example.com", "10.0.0.8")
    for _ in range(FREE_FAILURES - 1):
        await record_failure(any_db, keys)
    assert await login_wait(any_db, keys) == 0
