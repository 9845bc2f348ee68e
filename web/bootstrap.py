"""Start-up chores: the admin from the environment, and in the demo the sandbox seeded with connections to it."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from engine import store
from engine.models import CredentialState
from web.auth import create_user, user_count

if TYPE_CHECKING:
    from litestar import Litestar

    from engine.db import Database
    from engine.settings import Settings

__all__ = ("DEMO_SEED", "bootstrap")

log = logging.getLogger("koppel.bootstrap")

DEMO_SEED = {"orders": 200, "customers": 60, "products": 40, "seed": 1}


DEMO_BROKEN_ORDER = 990000


async def _import_order_with_rounding_error(sandbox: Any) -> None:
    """The demo shop also holds one order as a buggy discount plugin leaves them: its total is 0.05 more than its
    lines and taxes. The invoice's preflight refuses to book it, so a newcomer sees what a failed record looks like
    (the seeded orders themselves add up to the cent)."""
    import httpx

    from sandbox import credentials as c

    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        answer = await client.get(
            "/woocommerce/wp-json/wc/v3/orders",
            params={"status": "processing", "per_page": 100, "orderby": "id", "order": "asc"},
            auth=(c.WOO_RW_KEY, c.WOO_RW_SECRET),
        )
    orders = answer.json() if answer.status_code == 200 else []
    order = next((o for o in orders if o["billing"].get("country") == "NL" and not o.get("refunds")), None)
    if order is None:
        return
    broken = {k: v for k, v in order.items() if k != "_links"}
    broken.update(id=DEMO_BROKEN_ORDER, number=str(DEMO_BROKEN_ORDER), total=f"{float(order['total']) + 0.05:.2f}")
    broken["customer_note"] = "Imported from the old shop by a discount plugin that rounds per line."
    sandbox.woo.import_payloads(orders=[broken])


def _fresh_grant(asperion: Any, redirect_uri: str) -> str:
    """A refresh token of its own for the demo user, through the simulator's authorization-code grant."""
    code = asperion.tokens.issue_code(redirect_uri, None, "plain")
    return str(asperion.tokens.redeem_code(code, redirect_uri, None)["refresh_token"])


async def bootstrap(app: Litestar, settings: Settings, db: Database, *, sandbox: Any = None) -> None:
    if settings.admin_email and settings.admin_password and await user_count(db) == 0:
        await create_user(db, settings.admin_email, settings.admin_password, is_admin=True)
        log.warning("created admin %s from KOPPEL_ADMIN_EMAIL", settings.admin_email)
    if sandbox is None:
        return
    from sandbox.control import connections

    sandbox.seed(**DEMO_SEED)
    await _import_order_with_rounding_error(sandbox)
    base = os.environ.get("KOPPEL_BASE_URL", "http://127.0.0.1:8000").rstrip("/") + "/sandbox"
    existing = {row.name: row for row in await store.list_connections(db)}
    for name, spec in connections(base).items():
        row = existing.get(name)
        fields = {k: v for k, v in spec.items() if k != "app"}
        if spec["app"] == "asperion" and getattr(sandbox, "asperion", None) is not None:
            # The demo connection signs in on its own (as "Connect with Asperion" would), so the refresh token the
            # sandbox prints stays unused for whoever copies it into a connection of their own: refresh tokens
            # rotate, and two connections sharing one would lock each other out.
            fields["refresh_token"] = _fresh_grant(sandbox.asperion, f"{base}/demo-callback")
        saved = await store.save_connection(
            db, name=name, app=spec["app"], fields=fields, connection_id=row.id if row else None
        )
        # The sandbox starts afresh with each server: tokens it issued to an earlier one mean nothing now.
        async with db.session() as session, session.begin():
            await session.execute(delete(CredentialState).where(CredentialState.key == f"conn:{saved.id}"))
