"""Users, invitations and the audit trail (owner only); one's own API tokens (every role)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from litestar import Controller, Request, delete, get, post, put
from litestar.params import PathParameter, QueryParameter
from pydantic import BaseModel, Field
from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from engine.models import ApiToken, Role, utcnow
from nodes.texts import shown
from web.accounts import AccountError, invite_user, list_audit, list_users, remove_user, set_role, user_view
from web.api.errors import bad_request, not_found
from web.api.params import MAX_ID, SafeText
from web.auth import create_api_token, role_of

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("ROUTES", "TokenController", "UserController")

RoleName = Literal["viewer", "editor", "owner"]


class InviteIn(BaseModel):
    email: SafeText = Field(max_length=320, description="Who is invited")
    role: RoleName = Field(default="viewer", description="viewer (reads), editor (flows and runs), owner (all)")


class RoleIn(BaseModel):
    role: RoleName


class TokenIn(BaseModel):
    name: SafeText = Field(default="API token", max_length=200)
    role: RoleName | None = Field(default=None, description="At most your own role; empty: your role")
    expires_days: int | None = Field(default=90, ge=1, le=3650, description="Days the token works; null: no expiry")


def _email(request: Request[Any, Any, Any]) -> str | None:
    return getattr(request.scope.get("user"), "email", None)


class UserController(Controller):
    path = "/api"
    tags = ["users"]

    @get("/users", operation_id="ListUsers")
    async def list_all(self, db: Database) -> list[dict[str, Any]]:
        """Every account with its role (owner only)."""
        return [user_view(u) for u in await list_users(db)]

    @post("/users/invites", operation_id="InviteUser", status_code=201)
    async def invite(self, request: Request[Any, Any, Any], db: Database, data: InviteIn) -> dict[str, Any]:
        """An invitation link (valid 7 days, once): whoever opens it chooses a password and joins with the role."""
        try:
            new = await invite_user(db, data.email, data.role, invited_by=_email(request))
        except AccountError as exc:
            raise bad_request(str(exc)) from exc
        return {
            "email": new.invite.email,
            "role": new.invite.role,
            "link": str(request.base_url).rstrip("/") + new.path,
            "expires_at": new.invite.expires_at.isoformat(),
        }

    @put("/users/{user_id:str}", operation_id="ChangeUserRole")
    async def change_role(
        self, db: Database, user_id: Annotated[str, PathParameter(max_length=64)], data: RoleIn
    ) -> dict[str, Any]:
        try:
            return user_view(await set_role(db, user_id, data.role))
        except AccountError as exc:
            raise bad_request(str(exc)) from exc
        except LookupError as exc:
            raise not_found(str(exc)) from exc

    @delete("/users/{user_id:str}", operation_id="RemoveUser", status_code=204)
    async def remove(self, db: Database, user_id: Annotated[str, PathParameter(max_length=64)]) -> None:
        try:
            await remove_user(db, user_id)
        except AccountError as exc:
            raise bad_request(str(exc)) from exc
        except LookupError as exc:
            raise not_found(str(exc)) from exc

    @get("/audit", operation_id="ListAuditEvents")
    async def audit(
        self,
        db: Database,
        before_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """Who changed which flow, connection or user, newest first (page with ``before_id``)."""
        events = await list_audit(db, before_id=before_id, limit=limit)
        return {
            "events": [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "object_type": e.object_type,
                    "object_id": e.object_id,
                    "action": e.action,
                    "detail": e.detail,
                }
                for e in events
            ]
        }


def _token_view(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


class TokenController(Controller):
    path = "/api/tokens"
    tags = ["users"]
    opt = {"role": Role.VIEWER}  # one's own tokens: every role (a token never exceeds the role it is made with)

    @get("/", operation_id="ListTokens")
    async def list_tokens(self, request: Request[Any, Any, Any], db: Database) -> list[dict[str, Any]]:
        """Your own API tokens (never the token itself)."""
        async with db.session() as session:
            rows = (await session.execute(select(ApiToken).where(ApiToken.user_id == request.user.id))).scalars()
            return [_token_view(t) for t in rows]

    @post("/", operation_id="CreateToken", status_code=201)
    async def create(self, request: Request[Any, Any, Any], db: Database, data: TokenIn) -> dict[str, Any]:
        """A new token, shown once, with a role no higher than the one you act with, and an expiry."""
        acting = role_of(request) or Role.VIEWER
        role = data.role or acting
        if Role.rank(role) > Role.rank(acting):
            raise bad_request("role: a token cannot have a higher role than your own")
        expires_at = utcnow() + timedelta(days=data.expires_days) if data.expires_days else None
        token = await create_api_token(db, request.user.id, data.name, role=role, expires_at=expires_at)
        return {"token": token, "role": role, "expires_at": expires_at.isoformat() if expires_at else None}

    @delete("/{token_id:str}", operation_id="RevokeToken", status_code=204)
    async def revoke(
        self, request: Request[Any, Any, Any], db: Database, token_id: Annotated[str, PathParameter(max_length=64)]
    ) -> None:
        async with db.session() as session, session.begin():
            result = await session.execute(
                sql_delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == request.user.id)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise not_found(f"no token {shown(token_id)}")


ROUTES = [UserController, TokenController]
