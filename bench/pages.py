"""Server time of the API and the pages on a big database: 10,000 runs and 100,000 log entries.

    .venv/bin/python bench/pages.py [--runs 10000] [--entries 100000] [--postgres URL] [--json]

Fills a fresh database (SQLite by default), then times each URL in-process (no network), 20 requests each after
a warm-up, and prints the median and the 95th percentile. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def fill(db: Any, runs: int, entries: int) -> dict[str, str]:
    from sqlalchemy import insert

    from engine.models import Flow, FlowVersion, LogEntry, Run, new_id

    rng = random.Random(7)
    now = datetime.now(UTC)
    flows = [Flow(id=new_id(), name=f"Flow {i}", current_version=1) for i in range(20)]
    async with db.session() as session, session.begin():
        session.add_all(flows)
        await session.flush()
        session.add_all(
            [FlowVersion(flow_id=f.id, number=1, document={"format": "koppel.flow/1", "name": f.name}) for f in flows]
        )
    run_rows = []
    for i in range(runs):
        created = now - timedelta(minutes=runs - i)
        run_rows.append(
            {
                "id": new_id(),
                "flow_id": flows[i % len(flows)].id,
                "status": rng.choice(["succeeded", "succeeded", "succeeded", "partial", "failed"]),
                "trigger": "schedule",
                "document": {},
                "params": {},
                "read_count": 10,
                "ok_count": rng.randint(5, 10),
                "skipped_count": 0,
                "waiting_count": rng.randint(0, 1),
                "failed_count": rng.randint(0, 2),
                "attempt": 1,
                "cancel_requested": False,
                "created_at": created,
                "started_at": created,
                "finished_at": created + timedelta(seconds=3),
            }
        )
    big_run = run_rows[-1]["id"]
    async with db.session() as session, session.begin():
        for start in range(0, len(run_rows), 2000):
            await session.execute(insert(Run), run_rows[start : start + 2000])
    detail = {"input": {"id": 1, "number": "1001", "billing": {"email": "a@example.com"}}, "steps": []}
    batch: list[dict[str, Any]] = []
    for i in range(entries):
        status = "ok" if i % 20 else rng.choice(["failed", "skipped", "waiting"])
        batch.append(
            {
                "run_id": big_run,
                "flow_id": run_rows[-1]["flow_id"],
                "node_id": rng.choice(["orders", "filter", "invoice", "debtor", "book"]),
                "record_key": str(100000 + i),
                "source_id": f"order:{i}",
                "status": status,
                "message": "delivered as 1" if status == "ok" else "something to look at",
                "detail": detail,
                "resolved": False,
                "created_at": now,
            }
        )
        if len(batch) == 5000:
            async with db.session() as session, session.begin():
                await session.execute(insert(LogEntry), batch)
            batch = []
    if batch:
        async with db.session() as session, session.begin():
            await session.execute(insert(LogEntry), batch)
    return {"run": str(big_run), "flow": str(run_rows[-1]["flow_id"])}


async def measure(database_url: str, runs: int, entries: int) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("KOPPEL_SECRET_KEY", "bench")
    from litestar.testing import AsyncTestClient

    from engine.db import Database, migrate
    from engine.settings import Settings
    from web.app import create_app
    from web.auth import create_api_token, create_user

    settings = Settings.from_env()
    await migrate(settings)
    db = Database(database_url)
    started = time.perf_counter()
    ids = await fill(db, runs, entries)
    fill_s = time.perf_counter() - started
    user = await create_user(db, "bench@example.com", "benchmark-password")
    token = await create_api_token(db, user.id, "bench")
    await db.dispose()
    run, flow = ids["run"], ids["flow"]
    urls = [
        "/api/runs?per_page=50",
        f"/api/runs?flow_id={flow}",
        f"/api/runs/{run}",
        f"/api/runs/{run}/logs?limit=100",
        f"/api/runs/{run}/logs?status=failed",
        f"/api/runs/{run}/logs?node=invoice",
        f"/api/runs/{run}/logs?q=150000",
        f"/api/runs/{run}/logs?before_id={entries // 2}",
        "/api/inbox",
        "/api/flows",
        "/",
        "/flows",
        f"/flows/{flow}",
        "/runs",
        f"/runs/{run}",
        f"/runs/{run}/rows?status=failed",
        "/connections",
        "/templates",
        "/inbox",
    ]
    results: dict[str, Any] = {}
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        for url in urls:
            first = await client.get(url)
            if first.status_code == 404:
                results[url] = {"status": 404}
                continue
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                response = await client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            results[url] = {
                "status": response.status_code,
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
            }
    return {"runs": runs, "entries": entries, "fill_s": round(fill_s, 1), "pages": results}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument(
        "--postgres", default=None, help="a PostgreSQL URL (postgresql+asyncpg://…) of an empty database"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        os.environ["KOPPEL_VAR_DIR"] = tmp
        report = asyncio.run(measure(url, args.runs, args.entries))
    if not args.json:
        kind = "PostgreSQL" if args.postgres else "SQLite"
        print(f"database: {kind}, {report['runs']} runs, {report['entries']} log entries")
        for url, figures in report["pages"].items():
            if "median_ms" in figures:
                median, p95, status = figures["median_ms"], figures["p95_ms"], figures["status"]
                print(f"  {median:8.1f} ms median {p95:8.1f} ms p95  [{status}] {url}")
            else:
                print(f"  {'-':>8}                         [{figures['status']}] {url}")
        slowest = max((f.get("p95_ms", 0) for f in report["pages"].values()), default=0)
        print(f"slowest p95: {slowest} ms (target: well under 300 ms)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
