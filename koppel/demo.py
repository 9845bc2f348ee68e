"""The demo plugin: the WooCommerce and Asperion simulators mounted under ``/sandbox``, seeded with a realistic Dutch
shop, and demo connections to them (``KOPPEL_DEMO=1``; ``make run`` sets it)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from litestar import asgi
from sqlalchemy import delete

from engine import store
from engine.connections import token_key
from engine.models import CredentialState
from sandbox import credentials as c
from sandbox.app import create_sandbox_app
from sandbox.control import connections

if TYPE_CHECKING:
    from litestar import Litestar

    from engine.db import Database
    from engine.settings import Settings

__all__ = ("DEMO_BROKEN_ORDER", "DEMO_SEED", "DemoPlugin")

log = logging.getLogger("koppel.demo")

DEMO_SEED = {"orders": 200, "customers": 60, "products": 40, "seed": 1}
DEMO_BROKEN_ORDER = 990000


async def _import_order_with_rounding_error(sandbox: Any) -> None:
    """The demo shop also holds one order as a buggy discount plugin leaves them: its total is 0.05 more than its
    lines and taxes. The invoice's preflight refuses to book it, so a newcomer sees what a failed record looks like
    (the seeded orders themselves add up to the cent)."""
    import httpx

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


class DemoPlugin:
    """Mounts the sandbox at ``/sandbox`` and, at start-up, seeds it and saves the demo connections."""

    def __init__(self) -> None:
        self.sandbox = create_sandbox_app()

    def route_handlers(self) -> list[Any]:
        sandbox_app = self.sandbox

        @asgi("/sandbox", is_mount=True, exclude_from_auth=True, copy_scope=True)
        async def sandbox(scope: Any, receive: Any, send: Any) -> None:
            await sandbox_app(scope, receive, send)

        sandbox.opt["sandbox_app"] = sandbox_app
        return [sandbox]

    async def on_startup(self, app: Litestar, settings: Settings, db: Database) -> None:
        sandbox = self.sandbox
        sandbox.seed(**DEMO_SEED)
        await _import_order_with_rounding_error(sandbox)
        base = settings.base_url.rstrip("/") + "/sandbox"
        existing = {row.name: row for row in await store.list_connections(db)}
        for name, spec in connections(base).items():
            row = existing.get(name)
            fields = {k: v for k, v in spec.items() if k != "app"}
            if spec["app"] == "asperion" and getattr(sandbox, "asperion", None) is not None:
                # The demo connection signs in on its own (as "Connect with Asperion" would), so the refresh token
                # the sandbox prints stays unused for whoever copies it into a connection of their own: refresh
                # tokens rotate, and two connections sharing one would lock each other out.
                fields["refresh_token"] = _fresh_grant(sandbox.asperion, f"{base}/demo-callback")
            saved = await store.save_connection(
                db, name=name, app=spec["app"], fields=fields, connection_id=row.id if row else None
            )
            # The sandbox starts afresh with each server: tokens it issued to an earlier one mean nothing now.
            async with db.session() as session, session.begin():
                key = token_key(saved.name, {"_id": saved.id})
                await session.execute(delete(CredentialState).where(CredentialState.key == key))
