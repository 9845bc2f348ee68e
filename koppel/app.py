"""The assembled web app: ``web``'s app with the plugins the settings ask for (the demo sandbox)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.settings import Settings, get_settings
from web.app import create_app as create_web_app

if TYPE_CHECKING:
    from litestar import Litestar

    from engine.db import Database
    from web.plugins import WebPlugin

__all__ = ("create_app",)


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> Litestar:
    """The app ``koppel serve`` runs: with ``settings.demo`` the sandbox is mounted under ``/sandbox``.

    Args:
        settings: the settings (default: the process-wide ones).
        db: a database to use instead of opening one (tests).
    """
    settings = settings or get_settings()
    plugins: list[WebPlugin] = []
    if settings.demo:
        from koppel.demo import DemoPlugin

        plugins.append(DemoPlugin())
    return create_web_app(settings, db=db, plugins=plugins)
