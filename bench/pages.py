"""Server time of each page with many runs and log entries in the database.

    .venv/bin/python bench/pages.py --runs 10000 --entries 100000 [--database-url URL] [--json]

Seeds a fresh database (SQLite in a temporary folder unless ``--database-url`` names an empty one), logs in, and
times every main page in-process (Litestar's TestClient: the time is the server's, without a network); the last
line is one JSON object ``{"pages": {path: {"median_ms", "max_ms"}}, "runs", "entries", "worst_ms"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KOPPEL_SECRET_KEY", "bench-secret-key")

from sqlalchemy import insert

from engine import store
from engine.db import Database, migrate_sync
from engine.models import LogEntry, Run, new_id

__all__ = ("main",)

STATUSES = ["ok"] * 6 + ["skipped"] * 2 + ["failed", "waiting"]


async def seed(url: str, runs: int, entries: int) -> dict[str, Any]:
    """Flows from the templates, ``runs`` runs over 30 days, ``entries`` log entries (half in the biggest run)."""
    from engine.templates import get_template, list_templates

    db = Database(url)
    rng = random.Random(7)
    flows = []
    for name in list_templates():
        flows.append((await store.create_flow(db, get_template(name), note="bench", template=name)).id)
    now = datetime.now(UTC)
    run_rows = []
    for i in range(runs):
        ok, skipped, failed, waiting = rng.randint(0, 50), rng.randint(0, 10), rng.randint(0, 2), rng.randint(0, 1)
        created = now - timedelta(minutes=rng.randint(0, 30 * 24 * 60))
        run_rows.append(
            {
                "id": new_id(),
                "flow_id": flows[i % len(flows)],
                "document": {"nodes": [{"id": "orders"}, {"id": "invoice"}, {"id": "book"}]},
                "status": "partial" if failed else "succeeded",
                "trigger": "schedule",
                "params": {},
                "read_count": ok + skipped + failed + waiting,
                "ok_count": ok,
                "skipped_count": skipped,
                "failed_count": failed,
                "waiting_count": waiting,
                "expected_count": ok + skipped + failed + waiting,
                "attempt": 1,
                "cancel_requested": False,
                "created_at": created,
                "started_at": created,
                "finished_at": created + timedelta(seconds=30),
            }
        )
    big = run_rows[0]
    async with db.session() as session, session.begin():
        for start in range(0, len(run_rows), 2000):
            await session.execute(insert(Run), run_rows[start : start + 2000])
    detail = {
        "input": {"id": 1, "number": "1", "billing": {"country": "NL", "email": "a@example.nl"}, "line_items": []},
        "steps": [{"node": "invoice", "output": {"lines": [{"amount": 10.0, "vatAmount": 2.1, "vatCode": "H21"}]}}],
        "request": {"lines": [{"amount": 10.0, "vatAmount": 2.1, "vatCode": "H21"}]},
    }
    batch: list[dict[str, Any]] = []
    async with db.session() as session, session.begin():
        for i in range(entries):
            run = big if i < entries // 2 else run_rows[rng.randrange(len(run_rows))]
            status = rng.choice(STATUSES)
            batch.append(
                {
                    "run_id": run["id"],
                    "flow_id": run["flow_id"],
                    "node_id": rng.choice(["filter", "invoice", "book"]),
                    "record_key": str(10000 + i),
                    "source_id": f"order:{10000 + i}",
                    "status": status,
                    "message": "delivered as 77" if status == "ok" else "a reason a person can read",
                    "detail": detail,
                    "resolved": False,
                    "created_at": run["created_at"],
                }
            )
            if len(batch) >= 5000:
                await session.execute(insert(LogEntry), batch)
                batch = []
        if batch:
            await session.execute(insert(LogEntry), batch)
    await db.dispose()
    return {"flow": flows[0], "big_run": big["id"]}


def measure(url: str, ids: dict[str, Any], repeat: int) -> dict[str, dict[str, float]]:
    from litestar.testing import TestClient

    from engine.settings import Settings
    from web.app import create_app
    from web.auth import create_user

    async def admin() -> None:
        db = Database(url)
        await create_user(db, "bench@example.nl", "bench password", is_admin=True)
        await db.dispose()

    asyncio.run(admin())
    tmp = Path(tempfile.mkdtemp(prefix="koppel-bench-"))
    settings = Settings(var_dir=tmp, database_url=url, redis_url=None, secret_key="bench-secret-key")
    results: dict[str, dict[str, float]] = {}
    with TestClient(create_app(settings)) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        client.post(
            "/login", data={"email": "bench@example.nl", "password": "bench password", "csrf_token": token.group(1)}
        )
        rows = client.get(f"/runs/{ids['big_run']}/rows").text
        entry = re.search(r'hx-get="/logs/(\d+)"', rows)
        assert entry, rows[:300]
        paths = [
            "/",
            "/connections",
            "/templates",
            "/runs",
            "/runs?page=150",
            "/inbox",
            f"/flows/{ids['flow']}",
            f"/flows/{ids['flow']}/runs",
            f"/runs/{ids['big_run']}",
            f"/runs/{ids['big_run']}/rows?status=failed",
            f"/runs/{ids['big_run']}/rows?node=invoice&status=ok",
            f"/runs/{ids['big_run']}/rows?q=10042",
            f"/runs/{ids['big_run']}/rows?before_id=1000",
            f"/logs/{entry.group(1)}",
        ]
        for path in paths:
            client.get(path)  # warm caches (templates, statements)
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
            results[path] = {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    url = args.database_url or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='koppel-bench-')) / 'bench.db'}"
    migrate_sync(url)
    started = time.perf_counter()
    ids = asyncio.run(seed(url, args.runs, args.entries))
    seeded = time.perf_counter() - started
    pages = measure(url, ids, args.repeat)
    if not args.json:
        print(f"seeded {args.runs} runs and {args.entries} log entries in {seeded:.1f} s ({url.split(':')[0]})")
        for path, t in pages.items():
            print(f"{t['median_ms']:8.1f} ms median {t['max_ms']:8.1f} ms max  {path}")
    summary = {
        "runs": args.runs,
        "entries": args.entries,
        "database": url.split(":")[0],
        "pages": pages,
        "worst_ms": max(t["max_ms"] for t in pages.values()),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
