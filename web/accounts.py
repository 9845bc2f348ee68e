"""Accounts beyond the first: invitations, roles, removal, password changes, and the audit trail of changes.

The pages (:mod:`web.ui.users`) and the JSON API (:mod:`web.api.users`) share these operations, so both refuse the
same things: an owner can never demote or remove the last owner, an invitation works once and expires.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType
from sqlalchemy import delete, func, select, update

from engine.models import ApiToken, AuditEvent, Invite, Role, User, utcnow
from nodes.texts import shown
from web.auth import check_password, create_user, end_sessions, hash_password, verify_password

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from engine.db import Database

__all__ = (
    "INVITE_DAYS",
    "AccountError",
    "accept_invite",
    "audit_middleware",
    "change_password",
    "invite_user",
    "list_audit",
    "list_users",
    "open_invite",
    "record_audit",
    "remove_user",
    "set_role",
    "user_view",
)

log = logging.getLogger("koppel.accounts")
INVITE_DAYS = 7


class AccountError(ValueError):
    """A refused account change, with a plain sentence for the user."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_view(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "role": user.role, "created_at": user.created_at.isoformat()}


async def list_users(db: Database) -> list[User]:
    async with db.session() as session:
        return list((await session.execute(select(User).order_by(User.created_at))).scalars())


@dataclass
class NewInvite:
    invite: Invite
    token: str

    @property
    def path(self) -> str:
        return f"/invite/{self.token}"


async def invite_user(db: Database, email: str, role: str, *, invited_by: str | None) -> NewInvite:
    """An invitation link for ``email`` with ``role`` (valid :data:`INVITE_DAYS` days, once)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or "\x00" in email or " " in email:
        raise AccountError("enter a valid e-mail address")
    if role not in Role.ORDER:
        raise AccountError(f"the role must be one of {', '.join(Role.ORDER)}")
    token = secrets.token_urlsafe(32)
    async with db.session() as session, session.begin():
        if (await session.execute(select(User.id).where(User.email == email))).scalar_one_or_none():
            raise AccountError("an account with this e-mail address exists already")
        invite = Invite(
            email=email,
            role=role,
            token_hash=_hash(token),
            created_by=invited_by,
            expires_at=utcnow() + timedelta(days=INVITE_DAYS),
        )
        session.add(invite)
    return NewInvite(invite, token)


async def open_invite(db: Database, token: str) -> Invite | None:
    """The unused, unexpired invitation of ``token`` (None otherwise)."""
    async with db.session() as session:
        invite = (
            await session.execute(select(Invite).where(Invite.token_hash == _hash(token[:200])))
        ).scalar_one_or_none()
    if invite is None or invite.used_at is not None or invite.expires_at <= utcnow():
        return None
    return invite


async def accept_invite(db: Database, token: str, password: str, *, language: str = "en") -> User:
    """Create the invited account (the invitation is used up)."""
    invite = await open_invite(db, token)
    if invite is None:
        raise AccountError("this invitation is not valid any more: ask the owner for a new one")
    try:
        user = await create_user(db, invite.email, password, role=invite.role, language=language)
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    async with db.session() as session, session.begin():
        await session.execute(update(Invite).where(Invite.id == invite.id).values(used_at=utcnow()))
    await record_audit(db, invite.email, "user", user.id, "joined", f"{invite.email} joined as {invite.role}")
    return user


async def _owners(session: Any) -> int:
    return int((await session.execute(select(func.count(User.id)).where(User.role == Role.OWNER))).scalar_one())


async def set_role(db: Database, user_id: str, role: str) -> User:
    if role not in Role.ORDER:
        raise AccountError(f"the role must be one of {', '.join(Role.ORDER)}")
    async with db.session() as session, session.begin():
        user = await session.get(User, user_id)
        if user is None:
            raise LookupError(f"no user {shown(user_id)}")
        if user.role == Role.OWNER and role != Role.OWNER and await _owners(session) <= 1:
            raise AccountError("Koppel needs at least one owner: make someone else owner first")
        user.role = role
        user.is_admin = role == Role.OWNER
        # A token never acts above its user's role; tokens with a higher one are capped when they are used.
    return user


async def remove_user(db: Database, user_id: str) -> User:
    async with db.session() as session, session.begin():
        user = await session.get(User, user_id)
        if user is None:
            raise LookupError(f"no user {shown(user_id)}")
        if user.role == Role.OWNER and await _owners(session) <= 1:
            raise AccountError("Koppel needs at least one owner: make someone else owner first")
        await session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
        await session.delete(user)
    return user


async def change_password(db: Database, user: User, current: str, new: str) -> int:
    """Change the password; every session of the user ends. Returns the new session generation."""
    if not verify_password(user.password_hash, current):
        raise AccountError("the current password is wrong")
    try:
        check_password(new)
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    async with db.session() as session, session.begin():
        await session.execute(update(User).where(User.id == user.id).values(password_hash=hash_password(new)))
    return await end_sessions(db, user.id)


# ---- the audit trail ---------------------------------------------------------------------------------------------


async def record_audit(
    db: Database, actor: str | None, object_type: str, object_id: str, action: str, detail: str = ""
) -> None:
    async with db.session() as session, session.begin():
        session.add(
            AuditEvent(
                actor=actor,
                object_type=object_type[:40],
                object_id=object_id[:200],
                action=action[:80],
                detail=detail[:2000],
            )
        )


async def list_audit(db: Database, *, before_id: int | None = None, limit: int = 100) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 500)))
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    async with db.session() as session:
        return list((await session.execute(stmt)).scalars())


# Which changes the trail records: the object type by path, its id from the path parameters.
_AUDITED = (
    (re.compile(r"^/(api/)?flows\b|^/wizard/(create|activate)\b|^/templates/"), "flow", "flow_id"),
    (re.compile(r"^/(api/)?connections\b|^/wizard/connection\b"), "connection", "connection_id"),
    (re.compile(r"^/(api/)?users\b"), "user", "user_id"),
    (re.compile(r"^/api/privacy/erase\b"), "personal data", ""),
)
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def audit_middleware(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: one audit event per successful change of a flow, connection or user (page or API call).

    Innermost in the stack, so the user and the path parameters are known; the status decides success.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") not in _UNSAFE:
            await app(scope, receive, send)
            return
        status: list[int] = []

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await app(scope, receive, send_wrapper)
        if status and status[0] < 400:
            await _audit(scope)

    return middleware


async def _audit(scope: Scope) -> None:
    path = str(scope.get("path", ""))
    if path.endswith("/validate"):  # checks a document, changes nothing
        return
    found = next(((kind, param) for pattern, kind, param in _AUDITED if pattern.match(path)), None)
    if found is None:
        return
    object_type, id_param = found
    user = scope.get("user")
    params = scope.get("path_params") or {}
    object_id = str(params.get(id_param, "")) if id_param else ""
    handler = scope.get("route_handler")
    name = getattr(getattr(handler, "fn", None), "__name__", "") or "change"
    try:
        await record_audit(
            scope["app"].state.db,
            getattr(user, "email", None),
            object_type,
            object_id,
            name.replace("_", " ").strip(),
            f"{scope.get('method')} {path}",
        )
    except Exception:  # the change is made; a lost audit line must not turn it into an error
        log.exception("could not record the audit event for %s %s", scope.get("method"), path)
