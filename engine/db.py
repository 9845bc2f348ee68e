"""Database engine, sessions and migrations for both SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from engine.settings import Settings, get_settings

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Dialect
    from sqlalchemy.sql.dml import Insert

__all__ = (
    "BulkInsert",
    "Database",
    "EncodedJSON",
    "alembic_config",
    "migrate",
    "migrate_sync",
    "process_name",
    "session_name",
)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class EncodedJSON(str):
    """JSON text encoded already (the log sink encodes each entry's detail once, to measure and cap it): a JSON
    column stores it as it is instead of encoding the value a second time."""


class BulkInsert:
    """An INSERT of many rows in one driver call: compiled once per dialect, each row a tuple in the order of
    ``columns``, bound by each column's own type (its bind processor), then handed to the driver's executemany.

    SQLAlchemy's own executemany builds, processes and turns back into a tuple a dictionary per row; for a run's
    log batches that cost more CPU than the database's own work.

    Args:
        statement: the INSERT for a dialect name (``sqlite``, ``postgresql``), e.g. with ``ON CONFLICT DO NOTHING``.
        columns: the columns each row gives, in this order.
    """

    def __init__(self, statement: Callable[[str], Insert], columns: Sequence[str]) -> None:
        self.statement = statement
        self.columns = tuple(columns)
        self._compiled: dict[str, tuple[str, tuple[int, ...] | None, list[Callable[[Any], Any] | None]]] = {}

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[int, ...] | None, list[Callable[[Any], Any] | None]]:
        statement = self.statement(dialect.name)
        compiled = statement.compile(dialect=dialect, column_keys=list(self.columns))
        order = compiled.positiontup
        if order is None or sorted(order) != sorted(self.columns):
            raise ValueError(f"{self.columns} do not bind as positional parameters of one INSERT")
        table = statement.table
        processors: list[Callable[[Any], Any] | None] = [
            table.c[name].type._cached_bind_processor(dialect) for name in order
        ]
        positions = tuple(self.columns.index(name) for name in order)
        kept = self._compiled[dialect.name] = (
            compiled.string,
            None if positions == tuple(range(len(positions))) else positions,
            processors,
        )
        return kept

    async def execute(self, conn: AsyncConnection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (nothing when there are none)."""
        if not rows:
            return
        dialect = conn.dialect
        sql, positions, processors = self._compiled.get(dialect.name) or self._compile(dialect)
        if positions is not None:
            rows = [[row[i] for i in positions] for row in rows]
        converting = [(i, p) for i, p in enumerate(processors) if p is not None]
        params: list[tuple[Any, ...]] = []
        for row in rows:
            if converting:
                row = list(row)
                for i, process in converting:
                    row[i] = process(row[i])
            params.append(tuple(row))
        await conn.exec_driver_sql(sql, params)


def _json_serializer(value: Any) -> str:
    if isinstance(value, EncodedJSON):
        return str.__str__(value)
    return json.dumps(value)


class Database:
    """One async engine and its session factory."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _json_serializer}
        if url.startswith("sqlite"):
            _ensure_sqlite_dir(url)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
            if "asyncpg" in url:
                # A worker frozen (SIGSTOP, a stalled VM) inside a transaction would hold the run's row lock for ever,
                # and no other worker could take the run over: PostgreSQL ends such a session after the stale limit.
                idle_ms = int(max(get_settings().stale_after_s, 1.0) * 1000)
                kwargs["connect_args"] = {
                    "server_settings": {
                        "idle_in_transaction_session_timeout": str(idle_ms),
                        "application_name": session_name(process_name()),
                    }
                }
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if url.startswith("sqlite") else None
        """SQLite has one writer at a time per file: the run-data writers of this process take turns here instead of
        meeting in SQLite's busy handler (which gives up with "database is locked" after its timeout)."""

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction on one connection (committed at the end, rolled back on an error).

        On SQLite the writers of this process go one at a time (another process still waits in the busy timeout);
        on PostgreSQL they run side by side.
        """
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def session(self) -> AsyncSession:
        return self.sessions()

    async def dispose(self) -> None:
        await self.engine.dispose()


def process_name() -> str:
    """This process as runs record their worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def session_name(worker: str) -> str:
    """The PostgreSQL ``application_name`` of a worker's sessions (so that a frozen worker's can be ended)."""
    return f"koppel {worker}"[:63]


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


def migrate_sync(url: str | None = None, revision: str = "head", *, down: bool = False) -> None:
    """Upgrade (or downgrade) the database at ``url`` to ``revision``. Not callable from a running loop."""
    from alembic import command

    url = url or get_settings().database_url
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
    config = alembic_config(url)
    if down:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


async def migrate(settings: Settings | None = None) -> None:
    """Upgrade to head from inside a running event loop (Alembic's env runs its own loop, so use a thread)."""
    url = (settings or get_settings()).database_url
    await asyncio.to_thread(migrate_sync, url)
