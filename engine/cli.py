"""The engine's commands of ``koppel``: worker, migrate, template, flow, reconcile (``koppel.cli`` adds serve and
sandbox)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nodes.texts import shown

__all__ = ("main",)

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=None, ensure_ascii=False) + "\n")


def _load_json(path: str, what: str) -> Any:
    from engine.inputs import MAX_DEPTH, json_depth, nul_location

    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SystemExit(_fail(f"{what} {shown(path)} does not exist")) from None
    if json_depth(raw) > MAX_DEPTH:
        raise SystemExit(_fail(f"{what} {shown(path)} is nested deeper than {MAX_DEPTH} levels"))
    try:
        value = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SystemExit(_fail(f"{what} {shown(path)} is not valid JSON: {exc}")) from None
    where = nul_location(value)
    if where:
        raise SystemExit(_fail(f"{what} {shown(path)}: {where} contains a NUL character"))
    return value


def _fail(message: str, code: int = EXIT_INVALID) -> int:
    sys.stderr.write(f"koppel: {message}\n")
    return code


def cmd_worker(_: argparse.Namespace) -> int:
    from engine.db import migrate_sync
    from engine.jobs import build_worker
    from engine.settings import get_settings

    settings = get_settings()
    if not settings.redis_url:
        return _fail("koppel worker needs REDIS_URL (without it, koppel serve runs the worker in-process)")
    if settings.is_sqlite:
        migrate_sync(settings.database_url)
    build_worker(settings).run()
    return EXIT_OK


def cmd_migrate(_: argparse.Namespace) -> int:
    from engine.db import migrate_sync
    from engine.settings import get_settings

    migrate_sync(get_settings().database_url)
    return EXIT_OK


def cmd_template(args: argparse.Namespace) -> int:
    from engine.templates import get_template, list_templates

    if args.action == "list":
        for name in list_templates():
            sys.stdout.write(name + "\n")
        return EXIT_OK
    try:
        document = get_template(args.name)
    except KeyError:
        return _fail(f"no template named {shown(args.name)}; `koppel template list` shows them")
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK


def _connections_problems(connections: Any) -> list[str]:
    from nodes.connectors.registry import connectors

    if not isinstance(connections, dict):
        return ["the connections file must be a JSON object of name → connection"]
    known = connectors()
    problems = []
    for name, spec in connections.items():
        if not isinstance(spec, dict) or spec.get("app") not in known:
            problems.append(f"connection {shown(name)}: 'app' must be one of {', '.join(known)}")
            continue
        problems.extend(f"connection {shown(name)}: {message}" for message in known[spec["app"]].validate(spec))
    return problems


def cmd_flow(args: argparse.Namespace) -> int:
    from engine.flow import validate_flow

    document = _load_json(args.file, "flow file")
    if args.action == "validate":
        problems = validate_flow(document)
        if problems:
            _print_json([p.as_dict() for p in problems])
            return EXIT_INVALID
        return EXIT_OK
    connections = _load_json(args.connections, "connections file")
    problems_text = _connections_problems(connections)
    if problems_text:
        for line in problems_text:
            _fail(line)
        return EXIT_INVALID
    problems = validate_flow(document, {name: spec["app"] for name, spec in connections.items()})
    if problems:
        _print_json([p.as_dict() for p in problems])
        return EXIT_INVALID
    params: dict[str, Any] = {}
    if args.dry_run:
        params["dry_run"] = True
    if args.limit:
        params["limit"] = args.limit
    if args.queue_timeout <= 0:
        return _fail("--queue-timeout must be a number of seconds above 0")
    return asyncio.run(
        _flow_run(document, connections, params, queue=args.queue, as_json=args.json, queue_timeout=args.queue_timeout)
    )


async def _follow(db: Any, run_id: str, timeout_s: float) -> Any:
    """Wait for a queued run to finish; None when no worker made progress on it (started it, or beat its
    heartbeat) for ``timeout_s`` seconds."""
    from engine.models import Run, RunStatus

    loop = asyncio.get_running_loop()
    last_seen: tuple[Any, ...] | None = None
    progress_at = loop.time()
    while True:
        async with db.session() as session:
            current = await session.get(Run, run_id)
        if current is not None and current.status in RunStatus.FINISHED:
            return current
        seen = (current.status, current.heartbeat_at, current.read_count) if current is not None else None
        if seen != last_seen:
            last_seen, progress_at = seen, loop.time()
        elif loop.time() - progress_at > timeout_s:
            return None
        await asyncio.sleep(0.2)


async def _flow_run(
    document: dict[str, Any],
    connections: dict[str, Any],
    params: dict[str, Any],
    *,
    queue: bool,
    as_json: bool,
    queue_timeout: float = 300.0,
) -> int:
    from engine.db import Database, migrate
    from engine.models import RunStatus
    from engine.service import create_run, execute_run
    from engine.settings import get_settings

    settings = get_settings()
    if queue and not settings.redis_url:
        return _fail("--queue needs REDIS_URL (and workers started with `koppel worker`)")
    if settings.is_sqlite:
        await migrate(settings)
    db = Database(settings.database_url)
    try:
        run = await create_run(db, document=document, trigger="cli", params=params, connections=connections)
        if queue:
            from arq import create_pool
            from arq.connections import RedisSettings

            from engine.jobs import enqueue_run

            assert settings.redis_url
            redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
            try:
                await enqueue_run(run.id, queue=redis)
            finally:
                await redis.aclose()
            finished = await _follow(db, run.id, queue_timeout)
            if finished is None:
                _fail(
                    f"gave up on run {run.id} after {queue_timeout:g} s without a worker making progress on it: is "
                    "`koppel worker` running with the same REDIS_URL and DATABASE_URL? The run stays queued and "
                    "runs when a worker takes it (--queue-timeout changes how long this command waits).",
                    EXIT_FAILED,
                )
                if as_json:
                    _print_json({"run_id": run.id, "status": RunStatus.QUEUED, "error": "no worker took the run"})
                return EXIT_FAILED
        else:
            finished = await execute_run(db, run.id, settings)
            assert finished is not None
    finally:
        await db.dispose()
    summary = {
        "run_id": finished.id,
        "status": finished.status,
        "counts": finished.counts(),
        "started_at": finished.started_at.isoformat() if finished.started_at else None,
        "finished_at": finished.finished_at.isoformat() if finished.finished_at else None,
    }
    if finished.error:
        summary["error"] = finished.error
    retries = (finished.params or {}).get("retries")
    if retries:
        summary["retries"] = retries  # engine.retryset: records retried, recovered, pending a retry, given up
    if as_json:
        _print_json(summary)
    else:
        counts = finished.counts()
        sys.stdout.write(
            f"run {finished.id}: {finished.status} — read {counts['read']}, ok {counts['ok']}, "
            f"skipped {counts['skipped']}, waiting {counts['waiting']}, failed {counts['failed']}\n"
        )
        if retries:
            sys.stdout.write(
                f"  automatic retries: {retries['retried']} read again, {retries['recovered']} recovered; "
                f"{retries['pending']} failed for now and will be retried by a later run, "
                f"{retries['gave_up']} gave up (see the inbox)\n"
            )
    if finished.error:
        sys.stderr.write(f"koppel: run failed: {finished.error}\n")
    return EXIT_FAILED if (finished.failed_count or finished.error) else EXIT_OK


def cmd_reconcile(args: argparse.Namespace) -> int:
    from engine.reconcile_cli import run_reconcile

    connections = _load_json(args.connections, "connections file")
    problems = _connections_problems(connections)
    for line in problems:
        _fail(line)
    if problems:
        return EXIT_INVALID
    return run_reconcile(
        connections,
        args.date_from,
        args.date_to,
        as_json=args.json,
        woocommerce=args.woocommerce,
        asperion=args.asperion,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="koppel", description="Koppel: WooCommerce ↔ Asperion flows.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="the web app (and, without REDIS_URL, the worker)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(handler=None)  # the composition root (koppel.cli) serves the app

    sub.add_parser("worker", help="an arq worker (needs REDIS_URL)").set_defaults(handler=cmd_worker)
    sub.add_parser("migrate", help="upgrade the database to the latest schema").set_defaults(handler=cmd_migrate)

    sandbox = sub.add_parser("sandbox", help="the WooCommerce + Asperion simulators")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8100)
    sandbox.add_argument("--orders", type=int, default=0)
    sandbox.add_argument("--customers", type=int, default=None)
    sandbox.add_argument("--products", type=int, default=None)
    sandbox.add_argument("--seed", type=int, default=1)
    sandbox.add_argument("--latency-ms", type=float, default=0.0)
    sandbox.add_argument("--fail-rate", type=float, default=0.0)
    sandbox.add_argument("--rate-limit", type=float, default=0.0, help="requests per second before 429")
    sandbox.add_argument("--connections-out", default=None)
    sandbox.set_defaults(handler=None)  # the composition root (koppel.cli) starts the simulators

    template = sub.add_parser("template", help="the built-in flow templates")
    template_sub = template.add_subparsers(dest="action", required=True)
    template_sub.add_parser("list")
    show = template_sub.add_parser("show")
    show.add_argument("name")
    template.set_defaults(handler=cmd_template)

    flow = sub.add_parser("flow", help="validate or run a flow document")
    flow_sub = flow.add_subparsers(dest="action", required=True)
    validate = flow_sub.add_parser("validate")
    validate.add_argument("file")
    run = flow_sub.add_parser("run")
    run.add_argument("file")
    run.add_argument("--connections", required=True)
    run.add_argument("--json", action="store_true", help="print the run summary as one JSON object")
    run.add_argument("--queue", action="store_true", help="run it on an arq worker (REDIS_URL)")
    run.add_argument(
        "--queue-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="with --queue: give up when no worker starts or advances the run for this long (default 300)",
    )
    run.add_argument("--dry-run", action="store_true", help="write nothing; log what would be sent")
    run.add_argument("--limit", type=int, default=None, help="at most this many records")
    flow.set_defaults(handler=cmd_flow)

    reconcile = sub.add_parser("reconcile", help="compare a period of the shop with the books")
    reconcile.add_argument("--connections", required=True)
    reconcile.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    reconcile.add_argument("--to", dest="date_to", required=True, help="last day, YYYY-MM-DD (inclusive)")
    reconcile.add_argument("--json", action="store_true", help="print the report as one JSON object")
    reconcile.add_argument("--woocommerce", default=None, help="the shop connection (default: the only one)")
    reconcile.add_argument("--asperion", default=None, help="the books connection (default: the only one)")
    reconcile.set_defaults(handler=cmd_reconcile)
    return parser


Handler = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None, handlers: Mapping[str, Handler] | None = None) -> int:
    """Parse and run a command; ``handlers`` supplies the commands above the engine (``serve``, ``sandbox``).

    Args:
        argv: the arguments (default: the process's).
        handlers: command name → handler, from the composition root (``koppel.cli``).
    """
    import logging

    logging.basicConfig(level=os.environ.get("KOPPEL_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        args.host = args.host or os.environ.get("HOST", "127.0.0.1")
        args.port = args.port or int(os.environ.get("PORT", "8000"))
    handler: Handler | None = (handlers or {}).get(args.command) or args.handler
    if handler is None:
        return _fail(f"`{args.command}` is run by the koppel command (koppel.cli)")
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
