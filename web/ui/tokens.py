"""Personal API tokens: make one (shown once), see when each was last used, revoke it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from sqlalchemy import delete, select

from engine.models import ApiToken
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
    user = current_user(request)
    return render(request, "tokens.html", tokens=await _tokens(db, user.id), new_token=None)


@post("/account/tokens")
async def create_token(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    user = current_user(request)
    form = await request.form()
    name = str(form.get("name", "")).strip()[:200] or "API token"
    token = await create_api_token(db, user.id, name)
    return render(request, "tokens.html", tokens=await _tokens(db, user.id), new_token=token)


@post("/account/tokens/{token_id:str}/revoke")
async def revoke_token(request: Request[Any, Any, Any], db: Database, token_id: str) -> Response[str]:
    user = current_user(request)
    async with db.session() as session, session.begin():
        await session.execute(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    return redirect(request, "/account/tokens")


TOKEN_ROUTES = [tokens_page, create_token, revoke_token]
