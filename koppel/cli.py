"""The ``koppel`` command: the engine's commands plus those that assemble the app and the simulators."""

from __future__ import annotations

import argparse
import dataclasses
import os

from engine import cli as engine_cli
from engine.settings import configure, get_settings

__all__ = ("cmd_sandbox", "cmd_serve", "main")


def cmd_serve(args: argparse.Namespace) -> int:
    """The web app (and, without ``REDIS_URL``, the worker); the base URL defaults to the served address."""
    import uvicorn

    from koppel.app import create_app

    settings = get_settings()
    if not os.environ.get("KOPPEL_BASE_URL", "").strip():
        settings = configure(dataclasses.replace(settings, base_url=f"http://{args.host}:{args.port}"))
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info", proxy_headers=True)
    return engine_cli.EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    """The WooCommerce + Asperion simulators on their own port."""
    from sandbox.server import serve_sandbox

    serve_sandbox(
        host=args.host,
        port=args.port,
        orders=args.orders,
        customers=args.customers,
        products=args.products,
        seed=args.seed,
        latency_ms=args.latency_ms,
        fail_rate=args.fail_rate,
        rate_limit=args.rate_limit,
        connections_out=args.connections_out,
    )
    return engine_cli.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``koppel ...``: exit 0 on success, 1 when records failed, 2 for invalid input."""
    return engine_cli.main(argv, handlers={"serve": cmd_serve, "sandbox": cmd_sandbox})


if __name__ == "__main__":
    raise SystemExit(main())
