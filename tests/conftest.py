"""Shared fixtures: a fresh database per test (SQLite file, or a new PostgreSQL database), a private Redis DB.

Under ``CI=true`` tests that need PostgreSQL, Redis or Chromium run or fail; they never skip.
"""

from __future__ import annotations

import asyncio
import email
import os
import secrets
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KOPPEL_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("KOPPEL_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))

from engine.db import Database, migrate_sync
from engine.settings import SmtpSettings, get_settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("KOPPEL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def require(available: bool, what: str) -> None:
    """Skip locally when a service is missing; fail in CI, where every service must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not available")
    pytest.skip(f"{what} not available")


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'koppel.db'}"
    migrate_sync(url)
    return url


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[Database]:
    database = Database(sqlite_url)
    yield database
    await database.dispose()


def _psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN_URL, "-q", "-c", sql], check=True, capture_output=True)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards)."""
    require(_port_open("127.0.0.1", 5432), "PostgreSQL on 127.0.0.1:5432")
    name = f"koppel_test_{secrets.token_hex(6)}"
    _psql(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate_sync, pg_url)
    database = Database(pg_url)
    yield database
    await database.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database number nobody else uses during this test (flushed before and after)."""
    require(_port_open(REDIS_HOST, REDIS_PORT), "Redis on 127.0.0.1:6379")
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    chosen = None
    for number in secrets.SystemRandom().sample(range(1, 16), 15):
        # Claim the number with a marker key so that parallel test runs pick different ones.
        if client.execute_command("SELECT", number) and redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number).set(
            "koppel:test:claimed", "1", nx=True, ex=900
        ):
            chosen = number
            break
    assert chosen is not None, "no free Redis database number"
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{chosen}"
    try:
        yield url
    finally:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=chosen).flushdb()


@asynccontextmanager
async def api_client(app: Any) -> AsyncIterator[Any]:
    """An ``httpx.AsyncClient`` on ``app``, whose lifespan runs in this test's own event loop, logged in with a token.

    Litestar's AsyncTestClient runs the lifespan in a portal thread with a loop of its own while requests come from
    the test's loop: the database pool and the in-process worker then straddle two loops, and now and then an
    await never woke up. Here one task holds the lifespan (its cancel scope must be left where it was entered).
    """
    import httpx

    from web.auth import create_api_token, create_user

    started, stop = asyncio.Event(), asyncio.Event()

    async def hold_lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    holder = asyncio.create_task(hold_lifespan())
    async with asyncio.timeout(60):
        await asyncio.wait({holder, asyncio.create_task(started.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if holder.done():
        holder.result()  # start-up failed: raise its error
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            user = await create_user(app.state.db, "owner@example.com", "correct horse battery")
            client.headers["Authorization"] = f"Bearer {await create_api_token(app.state.db, user.id, 'tests')}"
            yield client
    finally:
        stop.set()
        await asyncio.wait_for(holder, 30)


@pytest.fixture
async def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The whole app (migration, embedded worker, no Redis, no demo) on a fresh SQLite file, as an API client logged
    in with a token (see :func:`api_client`)."""
    from engine.settings import Settings
    from web.app import create_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("KOPPEL_DEMO", raising=False)
    async with api_client(create_app(Settings.from_env())) as test_client:
        yield test_client


class Inbox:
    """The mail a local SMTP server received: (recipients, message) in arrival order."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    """A real SMTP server on a free local port (aiosmtpd) and the settings that send to it as shop@koppel.test."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SmtpSettings(host="127.0.0.1", port=port, sender="shop@koppel.test")
    finally:
        controller.stop()
