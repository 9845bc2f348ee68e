"""What the app can be extended with from above (the composition root): route handlers and a start-up step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from litestar import Litestar

    from engine.db import Database
    from engine.settings import Settings

__all__ = ("WebPlugin",)


class WebPlugin(Protocol):
    """A part of the app that ``web`` does not know by name (the demo sandbox)."""

    def route_handlers(self) -> list[Any]:
        """Handlers to mount (e.g. an ASGI mount under ``/sandbox``)."""
        ...

    async def on_startup(self, app: Litestar, settings: Settings, db: Database) -> None:
        """Run once the database and the queue are ready (after the admin is created)."""
        ...
