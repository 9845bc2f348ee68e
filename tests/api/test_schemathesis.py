"""schemathesis over ``/schema``: generated and hostile requests to every API operation, as a logged-in owner.

A real ``koppel serve`` on PostgreSQL (NUL characters and huge integers fail there first) answers every case; a
fixed budget of examples per operation and a fixed seed keep it to about a minute on two cores. The checks: no
5xx, every status code and content type documented, every body matching its documented schema.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.db import Database, migrate_sync
from tests.conftest import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MAX_EXAMPLES = 8
SEED = 20261203
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


async def _owner_token(url: str) -> str:
    from web.auth import create_api_token, create_user

    db = Database(url)
    try:
        user = await create_user(db, "owner@example.com", "correct horse battery")
        return await create_api_token(db, user.id, "schemathesis")
    finally:
        await db.dispose()


@pytest.fixture
def live_server(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``koppel serve`` on a fresh PostgreSQL database; yields its address and an owner's API token."""
    migrate_sync(pg_url)
    token = asyncio.run(_owner_token(pg_url))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "KOPPEL_VAR_DIR": str(tmp_path),
        "KOPPEL_LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    env.pop("KOPPEL_DEMO", None)
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "koppel"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_every_operation_survives_generated_and_hostile_input(live_server: tuple[str, str], tmp_path: Path) -> None:
    base, token = live_server
    result = subprocess.run(
        [
            str(BIN / "st"),
            "run",
            f"{base}/schema/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        check=False,
    )
    report = result.stdout[-12000:] + result.stderr[-3000:]
    assert "Tested: " in result.stdout, report
    tested = int(result.stdout.split("Tested: ", 1)[1].split()[0])
    assert tested >= 45, f"only {tested} operations were tested\n{report}"
    assert result.returncode == 0, report
