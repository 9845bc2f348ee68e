"""Who is asking, and what may they do: sessions, API tokens, CSRF, roles, log-in throttling.

- Passwords are hashed with argon2; sessions are signed, encrypted cookies (HttpOnly, SameSite=Lax, Secure over
  https). A session carries its user's *session generation*: logging out or changing the password raises the
  number in the database, so every session issued before (a copied cookie too) stops working on every server.
- ``Authorization: Bearer <token>``: a personal API token; only its SHA-256 is stored. A token has a role (never
  more than its user's) and may expire.
- Every unsafe request authenticated by the session cookie must carry the session's CSRF token in the
  ``X-CSRF-Token`` header (htmx sends it on every request: the layout sets ``hx-headers``).
- Roles (:class:`engine.models.Role`): a viewer reads, an editor changes flows and runs, an owner also manages users
  and connections and erases personal data. One guard (:func:`role_guard`) applies :func:`required_role` to every
  route and page.
- Log-in throttling: after :data:`FREE_FAILURES` failed log-ins for one account or from one address, each next try
  must wait, twice as long after each further failure (at most :data:`MAX_BLOCK_S`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from engine.models import ApiToken, LoginThrottle, Role, User, utcnow

if TYPE_CHECKING:
    from litestar.handlers.base import BaseRouteHandler

    from engine.db import Database

__all__ = (
    "FREE_FAILURES",
    "MAX_BLOCK_S",
    "PUBLIC_PATHS",
    "AuthMiddleware",
    "Principal",
    "authenticate",
    "clear_failures",
    "create_api_token",
    "create_user",
    "csrf_token",
    "end_sessions",
    "hash_password",
    "login_wait",
    "record_failure",
    "required_role",
    "role_guard",
    "role_of",
    "session_for",
    "user_count",
    "verify_password",
)

PUBLIC_PATHS = [
    "/health",
    "/login",
    "/setup",
    "/static",
    "/hooks",
    "/sandbox",
    "/schema",
    "/favicon.ico",
    "/lang",
    "/invite/",
]
_hasher = PasswordHasher()
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
FREE_FAILURES = 5
"""Failed log-ins allowed (per account and per address) before the next try must wait."""
MAX_BLOCK_S = 15 * 60
FAILURE_MEMORY = timedelta(hours=1)
"""A failure older than this (with none since) is forgotten."""
MIN_PASSWORD = 8

# What only an owner may change (every unsafe request under these paths), or see at all (users, audit trail).
_OWNER_CHANGES = re.compile(
    r"^/(api/)?connections\b|^/wizard/connection\b|^/api/privacy/erase\b|^/flows/[^/]+/automation/erase\b"
)
_OWNER_ONLY = re.compile(r"^/(api/)?(users|audit)\b|^/connections/asperion/callback\b")
# Unsafe methods every role may use: its own account, and requests that only read (validate, render a form).
_OWN_ACCOUNT = re.compile(r"^/(logout|account/)|^/ui/|^/(api/)?flows/([^/]+/)?validate$")


@dataclass(frozen=True)
class Principal:
    """How a request was authenticated (``session`` or ``token``) and the role it acts with."""

    kind: str
    role: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def user_count(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count(User.id)))).scalar_one())


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")


async def create_user(
    db: Database,
    email: str,
    password: str,
    *,
    is_admin: bool = False,
    language: str = "en",
    role: str | None = None,
) -> User:
    """A new account. The first account is the owner; later ones get ``role`` (viewer when not given)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or "\x00" in email:
        raise ValueError("enter a valid e-mail address")
    check_password(password)
    if role is not None and role not in Role.ORDER:
        raise ValueError(f"the role must be one of {', '.join(Role.ORDER)}")
    if is_admin or await user_count(db) == 0:
        role = Role.OWNER
    user = User(
        email=email,
        password_hash=hash_password(password),
        is_admin=role == Role.OWNER,
        language=language,
        role=role or Role.VIEWER,
    )
    async with db.session() as session, session.begin():
        clash = (await session.execute(select(User.id).where(User.email == email))).scalar_one_or_none()
        if clash:
            raise ValueError("an account with this e-mail address exists already")
        session.add(user)
    return user


async def authenticate(db: Database, email: str, password: str) -> User | None:
    async with db.session() as session:
        user = (await session.execute(select(User).where(User.email == email.strip().lower()))).scalar_one_or_none()
    if user is None or not verify_password(user.password_hash, password):
        return None
    return user


# ---- log-in throttling -------------------------------------------------------------------------------------------


def throttle_keys(email: str, address: str) -> list[str]:
    return [f"account:{email.strip().lower()[:320]}", f"address:{address[:64]}"]


async def login_wait(db: Database, keys: list[str]) -> int:
    """Seconds to wait before another log-in try for these keys (0: go ahead)."""
    now = utcnow()
    async with db.session() as session:
        rows = (await session.execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))).scalars().all()
    waits = [(row.blocked_until - now).total_seconds() for row in rows if row.blocked_until]
    return max([0, *(int(w) + 1 for w in waits if w > 0)])


def _block_for(failures: int) -> float:
    if failures < FREE_FAILURES:
        return 0.0
    return float(min(MAX_BLOCK_S, 2 ** (failures - FREE_FAILURES)))


async def record_failure(db: Database, keys: list[str]) -> None:
    """Count a failed log-in for each key; from the :data:`FREE_FAILURES`-th on, block for a growing time."""
    try:
        await _count_failure(db, keys)
    except IntegrityError:  # a parallel failure created the row first: count on it
        await _count_failure(db, keys)


async def _count_failure(db: Database, keys: list[str]) -> None:
    now = utcnow()
    async with db.session() as session, session.begin():
        for key in keys:
            row = await session.get(LoginThrottle, key, with_for_update=not db.is_sqlite)
            if row is None:
                row = LoginThrottle(key=key, failures=0, last_failure_at=now)
                session.add(row)
            elif now - row.last_failure_at > FAILURE_MEMORY:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            block = _block_for(row.failures)
            row.blocked_until = now + timedelta(seconds=block) if block else None


async def clear_failures(db: Database, keys: list[str]) -> None:
    async with db.session() as session, session.begin():
        await session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))


# ---- sessions ----------------------------------------------------------------------------------------------------


def session_for(user: User, language: str | None = None) -> dict[str, Any]:
    """The session of a user who just logged in (a fresh CSRF token; the user's current session generation)."""
    return {
        "user_id": user.id,
        "gen": user.session_generation,
        "csrf": secrets.token_urlsafe(24),
        "lang": language or user.language,
    }


async def end_sessions(db: Database, user_id: str) -> int:
    """End every session of the user on every server; returns the new session generation."""
    async with db.session() as session, session.begin():
        await session.execute(
            update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1)
        )
        return int(
            (await session.execute(select(User.session_generation).where(User.id == user_id))).scalar_one_or_none() or 0
        )


async def create_api_token(
    db: Database, user_id: str, name: str, *, role: str | None = None, expires_at: datetime | None = None
) -> str:
    """A new personal API token (shown once; only its hash is kept), acting at most with ``role``."""
    if role is not None and role not in Role.ORDER:
        raise ValueError(f"the role must be one of {', '.join(Role.ORDER)}")
    token = "kp_" + secrets.token_urlsafe(32)
    async with db.session() as session, session.begin():
        user = await session.get(User, user_id)
        if user is not None and role is not None and Role.rank(role) > Role.rank(user.role):
            raise ValueError("a token cannot have a higher role than your own")
        session.add(
            ApiToken(user_id=user_id, name=name, token_hash=_token_hash(token), role=role, expires_at=expires_at)
        )
    return token


def csrf_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The session's CSRF token (created on first use)."""
    session: Any = connection.scope.get("session") or {}
    token = session.get("csrf") if isinstance(session, dict) else None
    if not token:
        token = secrets.token_urlsafe(24)
        if isinstance(session, dict) and session:
            session["csrf"] = token
        else:
            connection.set_session({"csrf": token})
    return str(token)


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        db: Database = connection.app.state.db
        header = connection.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            found = await self._token_user(db, header[7:].strip())
            if found is None:
                raise NotAuthorizedException("invalid API token")
            user, role, expired = found
            if expired:
                raise NotAuthorizedException("this API token has expired: make a new one")
            return AuthenticationResult(user=user, auth=Principal("token", role))
        session: Any = connection.scope.get("session") or {}
        user_id = session.get("user_id") if isinstance(session, dict) else None
        if user_id and isinstance(user_id, str):
            async with db.session() as db_session:
                account = await db_session.get(User, user_id)
            if account is not None and session.get("gen", 0) == account.session_generation:
                if connection.scope.get("method") in UNSAFE:
                    sent = connection.headers.get("x-csrf-token", "")
                    if not sent or not hmac.compare_digest(str(sent), str(session.get("csrf", ""))):
                        raise PermissionDeniedException("missing or wrong CSRF token: reload the page and try again")
                return AuthenticationResult(user=account, auth=Principal("session", account.role))
        raise NotAuthorizedException("log in first")

    @staticmethod
    async def _token_user(db: Database, token: str) -> tuple[User, str, bool] | None:
        async with db.session() as session, session.begin():
            row = (
                await session.execute(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
            ).scalar_one_or_none()
            if row is None:
                return None
            user = await session.get(User, row.user_id)
            if user is None:
                return None
            expired = row.expires_at is not None and row.expires_at <= utcnow()
            if not expired:
                await session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=utcnow()))
            return user, Role.lowest(user.role, row.role or user.role), expired


# ---- roles -------------------------------------------------------------------------------------------------------


def role_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The role the request acts with (None when nobody is logged in)."""
    auth = connection.scope.get("auth")
    if isinstance(auth, Principal):
        return auth.role
    user = connection.scope.get("user")
    return getattr(user, "role", None) if user is not None else None


def required_role(method: str, path: str, opt: dict[str, Any] | None = None) -> str:
    """The least role a request needs: the handler's ``opt["role"]``, else the house rules by path and method."""
    if opt and opt.get("role") in Role.ORDER:
        return str(opt["role"])
    if _OWNER_ONLY.match(path):
        return Role.OWNER
    if method.upper() not in UNSAFE or _OWN_ACCOUNT.match(path):
        return Role.VIEWER
    if _OWNER_CHANGES.match(path):
        return Role.OWNER
    return Role.EDITOR


ROLE_REFUSALS = {
    Role.OWNER: "Only an owner may do this. Ask the owner of this Koppel.",
    Role.EDITOR: "Viewers may look but not change anything. Ask an owner for the editor role.",
}


async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Refuse (403) a request whose role is below what the route needs; public routes have no user and pass."""
    if connection.scope.get("user") is None:
        return
    needed = required_role(str(connection.scope.get("method") or "GET"), connection.url.path, handler.opt)
    if Role.rank(role_of(connection)) < Role.rank(needed):
        raise PermissionDeniedException(ROLE_REFUSALS.get(needed, ROLE_REFUSALS[Role.OWNER]))
