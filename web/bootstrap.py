"""Start-up chores: the admin from the environment, and in the demo the sandbox seeded with connections to it."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from engine import store
from web.auth import create_user, user_count

if TYPE_CHECKING:
    from litestar import Litestar

    from engine.db import Database
    from engine.settings import Settings

__all__ = ("bootstrap", "demo_connection_fields")

log = logging.getLogger("koppel.bootstrap")

DEMO_SEED = {"orders": 200, "customers": 60, "products": 40, "seed": 1}


def demo_connection_fields(base_url: str) -> dict[str, dict[str, Any]]:
    """The demo connections to a sandbox served at ``base_url`` (connections-file objects)."""
    from sandbox import credentials as c

    return {
        "woocommerce": {
            "app": "woocommerce",
            "url": f"{base_url}/woocommerce",
            "consumer_key": c.WOO_RW_KEY,
            "consumer_secret": c.WOO_RW_SECRET,
        },
        "asperion": {
            "app": "asperion",
            "url": f"{base_url}/asperion",
            "identity_url": f"{base_url}/asperion",
            "client_id": c.ASPERION_CLIENT_ID,
            "client_secret": c.ASPERION_CLIENT_SECRET,
            "refresh_token": c.ASPERION_INITIAL_REFRESH_TOKEN,
            "tenant_id": c.ASPERION_DEFAULT_TENANT,
        },
    }


async def bootstrap(app: Litestar, settings: Settings, db: Database, *, sandbox: Any = None) -> None:
    if settings.admin_email and settings.admin_password and await user_count(db) == 0:
        await create_user(db, settings.admin_email, settings.admin_password, is_admin=True)
        log.warning("created admin %s from KOPPEL_ADMIN_EMAIL", settings.admin_email)
    if sandbox is None:
        return
    seeder = getattr(sandbox, "state", None)
    seed = getattr(getattr(seeder, "woo", None), "seed", None) if seeder is not None else None
    if callable(seed):
        seed(**DEMO_SEED)
    base = os.environ.get("KOPPEL_BASE_URL", "http://127.0.0.1:8000").rstrip("/") + "/sandbox"
    existing = {row.name: row for row in await store.list_connections(db)}
    for name, spec in demo_connection_fields(base).items():
        row = existing.get(name)
        fields = {k: v for k, v in spec.items() if k != "app"}
        await store.save_connection(
            db, name=name, app=spec["app"], fields=fields, connection_id=row.id if row else None
        )
