"""The Litestar application: JSON API, pages, live log streams, webhooks, and the plugins mounted from above."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, get
from litestar.config.response_cache import ResponseCacheConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from engine.db import Database, migrate
from engine.settings import Settings, get_settings
from web.accounts import audit_middleware
from web.auth import PUBLIC_PATHS, AuthMiddleware, role_guard
from web.deps import provide_db
from web.hygiene import check_request, server_error
from web.plugins import WebPlugin

__all__ = ("create_app",)

log = logging.getLogger("koppel.web")
ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = ROOT / "static"


@get("/health", media_type=MediaType.JSON, exclude_from_auth=True, sync_to_thread=False, include_in_schema=True)
def health() -> dict[str, str]:
    """Liveness for load balancers (no login)."""
    return {"status": "ok"}


def _session_secret(settings: Settings) -> bytes:
    from engine.crypto import get_box

    # Derived from the credential key, so every web server of a cluster shares it without another setting.
    get_box(settings)
    key = settings.secret_key or (settings.var_dir / "secret.key").read_text().strip()
    return hashlib.sha256(("koppel-session:" + key).encode()).digest()


def _https(scope: Any, trust_proxy: bool) -> bool:
    """Whether the browser talks https to us: directly, or through a trusted proxy that says so."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    if not trust_proxy:
        return False
    for name, value in scope.get("headers") or []:
        if name == b"x-forwarded-proto":
            return bool(value.split(b",")[0].strip().lower() == b"https")
    return False


def secure_cookies(settings: Settings) -> Callable[[Any], Any]:
    """ASGI middleware: every cookie gets the Secure flag when the request came over https.

    Behind a proxy, its ``X-Forwarded-Proto: https`` counts only with ``KOPPEL_TRUSTED_PROXY=1`` (anyone could send
    the header to a server reached directly). ``KOPPEL_SECURE_COOKIES=1`` makes every cookie Secure.
    """
    return partial(_secure_cookies, trust_proxy=settings.trusted_proxy, always=settings.secure_cookies)


def _secure_cookies(app: Any, *, trust_proxy: bool, always: bool) -> Any:
    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not (always or _https(scope, trust_proxy)):
            await app(scope, receive, send)
            return

        async def send_secure(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers") or []:
                    if name.lower() == b"set-cookie" and b"; secure" not in value.lower():
                        value = value + b"; Secure"
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_secure)

    return middleware


def _route_handlers() -> list[Any]:
    from web.api import ROUTES as API_ROUTES
    from web.hooks import ROUTES as HOOK_ROUTES
    from web.ui import ROUTES as UI_ROUTES

    handlers: list[Any] = [health, *API_ROUTES, *UI_ROUTES, *HOOK_ROUTES]
    if STATIC.exists():
        handlers.append(
            create_static_files_router(path="/static", directories=[STATIC], opt={"exclude_from_auth": True})
        )
    return handlers


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, plugins: Sequence[WebPlugin] = ()
) -> Litestar:
    """Build the app; ``koppel.app`` adds the plugins (the demo sandbox) and ``koppel serve`` runs it.

    Args:
        settings: the settings (default: the process-wide ones).
        db: a database to use instead of opening one (tests).
        plugins: parts mounted from above (their handlers, and a start-up step after the bootstrap).
    """
    settings = settings or get_settings()
    handlers = _route_handlers()
    for plugin in plugins:
        handlers.extend(plugin.route_handlers())

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if settings.is_sqlite:
            await migrate(settings)
        database = db or Database(settings.database_url)
        app.state.db = database
        app.state.settings = settings
        worker = None
        queue = None
        if settings.redis_url:
            from arq import create_pool
            from arq.connections import RedisSettings

            from engine.broadcast import RedisBroadcaster, set_broadcaster
            from engine.jobs import set_queue

            queue = await create_pool(RedisSettings.from_dsn(settings.redis_url))
            set_queue(queue)
            set_broadcaster(RedisBroadcaster(queue))
        else:
            from engine.jobs import EmbeddedWorker

            worker = EmbeddedWorker(settings, database)
            await worker.start()
        from web.api.openapi import document_error_responses
        from web.bootstrap import bootstrap

        document_error_responses(app)
        await bootstrap(app, settings, database)
        for plugin in plugins:
            await plugin.on_startup(app, settings, database)
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            if queue is not None:
                await queue.aclose()
            if db is None:
                await database.dispose()

    template_config = TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine) if TEMPLATES.exists() else None
    session = CookieBackendConfig(
        secret=_session_secret(settings),
        samesite="lax",
        httponly=True,
        secure=settings.secure_cookies,
    )
    auth = DefineMiddleware(AuthMiddleware, exclude=[f"^{p}" for p in PUBLIC_PATHS])
    return Litestar(
        route_handlers=handlers,
        dependencies={"db": Provide(provide_db)},
        signature_namespace={"Database": Database},
        middleware=[secure_cookies(settings), session.middleware, auth, audit_middleware],
        guards=[role_guard],
        before_request=check_request,
        exception_handlers={500: server_error},
        template_config=template_config,
        lifespan=[lifespan],
        state=State({"settings": settings}),
        openapi_config=OpenAPIConfig(
            title="Koppel API",
            version="1",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/")],
            description="Flows, connections, runs and their per-record logs. Authenticate with a session or "
            "`Authorization: Bearer <personal API token>`.",
        ),
        response_cache_config=ResponseCacheConfig(),
        debug=settings.debug,
    )
