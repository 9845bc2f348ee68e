"""Personal API tokens: make one (shown once), see when each was last used, revoke it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from sqlalchemy import delete, select

from engine.models import ApiToken, Role, utcnow
from web.auth import create_api_token
from web.ui.render import current_user, redirect, render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("TOKEN_ROUTES",)


async def _tokens(db: Database, user_id: str) -> list[ApiToken]:
    async with db.session() as session:
        stmt = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc())
        return list((await session.execute(stmt)).scalars())


@get("/account/tokens")
async def tokens_page(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    return await _page(request, db, None)


EXPIRY_DAYS = (30, 90, 365, 0)
"""Choices for a new token's lifetime in days (0: never expires)."""


async def _page(
    request: Request[Any, Any, Any], db: Database, new_token: str | None, error: str | None = None
) -> Response[str]:
    user = current_user(request)
    return render(
        request,
        "tokens.html",
        tokens=await _tokens(db, user.id),
        new_token=new_token,
        roles=Role.ORDER[: Role.rank(user.role) + 1],
        expiry_days=EXPIRY_DAYS,
        now=utcnow(),
        error=error,
        status_code=400 if error else 200,
    )


@post("/account/tokens")
async def create_token(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    user = current_user(request)
    form = await request.form()
    name = str(form.get("name", "")).strip()[:200] or "API token"
    role = str(form.get("role", "")) or user.role
    try:
        days = int(str(form.get("expires_days", "90")))
    except ValueError:
        days = -1
    if days not in EXPIRY_DAYS:
        return await _page(request, db, None, "Choose how long the token works.")
    if Role.rank(role) < 0 or Role.rank(role) > Role.rank(user.role):
        return await _page(request, db, None, "A token cannot have a higher role than your own.")
    expires_at = utcnow() + timedelta(days=days) if days else None
    token = await create_api_token(db, user.id, name, role=role, expires_at=expires_at)
    return await _page(request, db, token)


@post("/account/tokens/{token_id:str}/revoke")
async def revoke_token(request: Request[Any, Any, Any], db: Database, token_id: str) -> Response[str]:
    user = current_user(request)
    async with db.session() as session, session.begin():
        await session.execute(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    return redirect(request, "/account/tokens")


TOKEN_ROUTES = [tokens_page, create_token, revoke_token]
