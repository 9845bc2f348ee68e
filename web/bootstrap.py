"""Start-up chores: the admin from the environment (the demo's sandbox and connections: ``koppel.demo``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from web.auth import create_user, user_count

if TYPE_CHECKING:
    from litestar import Litestar

    from engine.db import Database
    from engine.settings import Settings

__all__ = ("bootstrap",)

log = logging.getLogger("koppel.bootstrap")


async def bootstrap(app: Litestar, settings: Settings, db: Database) -> None:
    """Create the admin from ``KOPPEL_ADMIN_EMAIL``/``KOPPEL_ADMIN_PASSWORD`` on an empty database."""
    if settings.admin_email and settings.admin_password and await user_count(db) == 0:
        await create_user(db, settings.admin_email, settings.admin_password, is_admin=True)
        log.warning("created admin %s from KOPPEL_ADMIN_EMAIL", settings.admin_email)
