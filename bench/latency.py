"""Per-record latency of the live page: the delay from a record processed to its log line readable.

    .venv/bin/python bench/latency.py [--orders 3000] [--database-url URL] [--json]

Runs the simple job (bench/engine.py --job simple) against the sandbox and, in another process (as the web app
is), polls the run's log entries every 50 ms as the run page's stream reads them after each wake-up. A record
counts as processed when the engine hands its result to the log writer (``LogSink.add``); it is readable when its
first log line is returned by the poll. The last line is JSON: {"records", "p50_s", "p95_s", "p99_s", "max_s", ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.engine import flow_document, fresh_database, load_average, start_sandbox  # noqa: E402

POLL_S = 0.05


async def measure(connections: dict[str, Any], tmp: Path, database_url: str, concurrency: int | None) -> dict[str, Any]:
    os.environ["KOPPEL_VAR_DIR"] = str(tmp / "var")
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("KOPPEL_SECRET_KEY", "bench")
    from engine.db import Database, migrate
    from engine.jobs import prepare_worker_process
    from engine.logsink import LogSink, RecordResult
    from engine.service import create_run, execute_run
    from engine.settings import get_settings

    prepare_worker_process()
    get_settings.cache_clear()
    settings = get_settings()
    await migrate(settings)
    db = Database(settings.database_url)
    if concurrency is not None:
        for spec in connections.values():
            spec["concurrency"] = concurrency
    run = await create_run(db, document=flow_document("simple", concurrency), connections=connections, trigger="bench")

    processed: dict[str, float] = {}
    original_add = LogSink.add

    async def add(self: LogSink, result: RecordResult) -> None:
        processed.setdefault(result.source_id, time.time())
        await original_add(self, result)

    LogSink.add = add  # type: ignore[method-assign]
    writes: list[float] = []
    original_write = LogSink._write

    async def timed_write(self: LogSink, batch: list[RecordResult]) -> None:
        began = time.monotonic()
        await original_write(self, batch)
        writes.append(time.monotonic() - began)

    LogSink._write = timed_write  # type: ignore[method-assign]
    seen_file = tmp / "seen.jsonl"
    poller = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--poll", settings.database_url, run.id, str(seen_file),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert poller.stdout is not None
    await poller.stdout.readline()  # its first read is done: it polls from now on
    started = time.perf_counter()
    try:
        finished = await execute_run(db, run.id, settings)
    finally:
        assert poller.stdin is not None
        poller.stdin.close()  # the poller reads once more and stops
        await asyncio.wait_for(poller.wait(), 60)
        LogSink.add = original_add  # type: ignore[method-assign]
        LogSink._write = original_write  # type: ignore[method-assign]
    elapsed = time.perf_counter() - started
    await db.dispose()
    assert finished is not None and not finished.error, finished and finished.error
    seen: dict[str, float] = {}
    for line in seen_file.read_text().splitlines():
        source_id, at = json.loads(line)
        seen.setdefault(source_id, at)
    delays = sorted(seen[key] - processed[key] for key in processed if key in seen)

    def pct(p: float) -> float:
        return round(delays[min(len(delays) - 1, int(p * len(delays)))], 3)

    return {
        "records": len(delays),
        "run_s": round(elapsed, 2),
        "mean_s": round(statistics.fmean(delays), 3),
        "p50_s": pct(0.50),
        "p95_s": pct(0.95),
        "p99_s": pct(0.99),
        "max_s": round(delays[-1], 3),
        "poll_s": POLL_S,
        "unseen": len(processed) - len(delays),
        "log_writes": len(writes),
        "log_write_p50_s": round(statistics.median(writes), 3) if writes else None,
        "log_write_max_s": round(max(writes), 3) if writes else None,
    }


async def poll(database_url: str, run_id: str, out: Path) -> None:
    """In its own process, as the web app is: every ``POLL_S`` the run's new log entries, each source id's first
    sighting (wall clock) written to ``out``; stops after one last read once stdin closes."""
    from sqlalchemy import select

    from engine.db import Database
    from engine.models import LogEntry

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stdin = sys.stdin.fileno()
    loop.add_reader(stdin, lambda: stop.set() if not os.read(stdin, 1) else None)
    db, last, ready = Database(database_url), 0, False
    with out.open("w") as sink:
        while True:
            final = stop.is_set()
            async with db.session() as session:
                rows = (
                    await session.execute(
                        select(LogEntry.id, LogEntry.source_id)
                        .where(LogEntry.run_id == run_id, LogEntry.id > last)
                        .order_by(LogEntry.id)
                    )
                ).all()
            now = time.time()
            for entry_id, source_id in rows:
                last = max(last, entry_id)
                sink.write(json.dumps([source_id, now]) + "\n")
            if final:
                break
            if not ready:
                ready = print("ready", flush=True) or True
            await asyncio.sleep(POLL_S)
    await db.dispose()


def main() -> None:
    if sys.argv[1:2] == ["--poll"]:
        asyncio.run(poll(sys.argv[2], sys.argv[3], Path(sys.argv[4])))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument(
        "--concurrency",
        default="adaptive",
        help="records and requests in flight: adaptive (a flow's default) or a number",
    )
    parser.add_argument("--database-url", help="run Koppel on a fresh database on this server (default: SQLite)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        proc, _, connections = start_sandbox(args.orders, tmp)
        try:
            load = load_average()
            with fresh_database(args.database_url, tmp, 1) as url:
                concurrency = None if args.concurrency == "adaptive" else int(args.concurrency)
                result = asyncio.run(measure(connections, tmp, url, concurrency))
        finally:
            proc.terminate()
            proc.wait(30)
    result.update(orders=args.orders, load_average=f"{load} → {load_average()}")
    if not args.json:
        print(
            f"{result['records']} records over {result['run_s']} s: processed → log line readable "
            f"p50 {result['p50_s']} s, p95 {result['p95_s']} s, p99 {result['p99_s']} s, max {result['max_s']} s"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
