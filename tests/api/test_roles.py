"""Roles on the API: a viewer reads, an editor changes flows and runs, an owner also users, connections, erase.

API tokens carry a role (never above their user's) and an expiry; invitations work once.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from engine.models import ApiToken, utcnow
from web.auth import create_api_token, create_user


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _token_of(client: httpx.AsyncClient, email: str, role: str) -> str:
    db = client._transport.app.state.db  # type: ignore[attr-defined]
    user = await create_user(db, email, "correct horse battery", role=role)
    return await create_api_token(db, user.id, "tests")


CONNECTION = {
    "name": "shop",
    "app": "woocommerce",
    "fields": {"url": "https://shop.example", "consumer_key": "ck_a", "consumer_secret": "cs_b"},
}


async def test_viewer_reads_only(client: httpx.AsyncClient) -> None:
    viewer = _as(await _token_of(client, "viewer@example.com", "viewer"))
    assert (await client.get("/api/flows", headers=viewer)).status_code == 200
    assert (await client.get("/api/runs", headers=viewer)).status_code == 200
    refused = await client.post("/api/flows", json={"template": "orders-to-sales-invoices"}, headers=viewer)
    assert refused.status_code == 403 and "Viewers may look" in refused.json()["detail"]
    assert (await client.get("/api/users", headers=viewer)).status_code == 403
    assert (await client.get("/api/audit", headers=viewer)).status_code == 403


async def test_editor_changes_flows_but_not_connections_users_or_personal_data(client: httpx.AsyncClient) -> None:
    editor = _as(await _token_of(client, "editor@example.com", "editor"))
    flow = await client.post("/api/flows", json={"template": "orders-to-sales-invoices"}, headers=editor)
    assert flow.status_code == 201
    assert (await client.post("/api/connections", json=CONNECTION, headers=editor)).status_code == 403
    erase = await client.post("/api/privacy/erase", json={"email": "a@example.com"}, headers=editor)
    assert erase.status_code == 403 and "Only an owner" in erase.json()["detail"]
    invite = await client.post("/api/users/invites", json={"email": "x@example.com"}, headers=editor)
    assert invite.status_code == 403
    # The owner may do all three.
    assert (await client.post("/api/connections", json=CONNECTION)).status_code == 201
    assert (await client.post("/api/privacy/erase", json={"email": "a@example.com"})).status_code == 200


async def test_a_token_never_acts_above_its_role(client: httpx.AsyncClient) -> None:
    made = await client.post("/api/tokens", json={"name": "read only", "role": "viewer", "expires_days": 30})
    assert made.status_code == 201 and made.json()["role"] == "viewer"
    read_only = _as(made.json()["token"])
    assert (await client.get("/api/flows", headers=read_only)).status_code == 200
    refused = await client.post("/api/flows", json={"template": "orders-to-sales-invoices"}, headers=read_only)
    assert refused.status_code == 403, "the owner's viewer token acts as a viewer"
    higher = await client.post("/api/tokens", json={"name": "sneaky", "role": "owner"}, headers=read_only)
    assert higher.status_code == 400 and "higher role" in higher.json()["detail"]
    listed = (await client.get("/api/tokens")).json()
    assert {"read only", "tests"} <= {t["name"] for t in listed}
    assert all("token" not in t for t in listed), "a token is shown only once"


async def test_an_expired_token_is_refused(client: httpx.AsyncClient) -> None:
    made = (await client.post("/api/tokens", json={"name": "short", "expires_days": 1})).json()
    token = _as(made["token"])
    assert (await client.get("/api/flows", headers=token)).status_code == 200
    db = client._transport.app.state.db  # type: ignore[attr-defined]
    async with db.session() as session, session.begin():
        await session.execute(
            update(ApiToken).where(ApiToken.name == "short").values(expires_at=utcnow() - timedelta(seconds=1))
        )
    answer = await client.get("/api/flows", headers=token)
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]


async def test_a_revoked_token_stops_working(client: httpx.AsyncClient) -> None:
    made = (await client.post("/api/tokens", json={"name": "gone"})).json()
    token_id = next(t["id"] for t in (await client.get("/api/tokens")).json() if t["name"] == "gone")
    assert (await client.delete(f"/api/tokens/{token_id}")).status_code == 204
    assert (await client.get("/api/flows", headers=_as(made["token"]))).status_code == 401


async def test_users_api_invites_changes_roles_and_keeps_an_owner(client: httpx.AsyncClient) -> None:
    invite = await client.post("/api/users/invites", json={"email": "New@Example.com", "role": "editor"})
    assert invite.status_code == 201 and "/invite/" in invite.json()["link"]
    again = await client.post("/api/users/invites", json={"email": "owner@example.com"})
    assert again.status_code == 400 and "exists already" in again.json()["detail"]
    users = (await client.get("/api/users")).json()
    owner = next(u for u in users if u["email"] == "owner@example.com")
    assert owner["role"] == "owner", "the first account is the owner"
    last = await client.put(f"/api/users/{owner['id']}", json={"role": "viewer"})
    assert last.status_code == 400 and "at least one owner" in last.json()["detail"]
    assert (await client.delete(f"/api/users/{owner['id']}")).status_code == 400
    bad = await client.put(f"/api/users/{owner['id']}", json={"role": "admin"})
    assert bad.status_code == 400 and "role" in bad.text
    events = (await client.get("/api/audit")).json()["events"]
    assert any(e["object_type"] == "user" and e["action"] == "invite" for e in events)
