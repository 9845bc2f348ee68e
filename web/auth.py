"""Who is asking: session cookies for the browser, personal API tokens for scripts, CSRF for unsafe requests.

- Passwords are hashed with argon2; sessions are signed, encrypted cookies (HttpOnly, SameSite=Lax), so web
  servers stay stateless.
- ``Authorization: Bearer <token>``: a personal API token; only its SHA-256 is stored.
- Every unsafe request authenticated by the session cookie must carry the session's CSRF token in the
  ``X-CSRF-Token`` header (htmx sends it on every request: the layout sets ``hx-headers``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import func, select, update

from engine.models import ApiToken, User, utcnow

if TYPE_CHECKING:
    from engine.db import Database

__all__ = (
    "PUBLIC_PATHS",
    "AuthMiddleware",
    "create_api_token",
    "create_user",
    "csrf_token",
    "hash_password",
    "user_count",
    "verify_password",
)

PUBLIC_PATHS = ["/health", "/login", "/setup", "/static", "/hooks", "/sandbox", "/schema", "/favicon.ico", "/lang"]
_hasher = PasswordHasher()
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


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


async def create_user(db: Database, email: str, password: str, *, is_admin: bool = False, language: str = "en") -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise ValueError("enter a valid e-mail address")
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin, language=language)
    async with db.session() as session, session.begin():
        session.add(user)
    return user


async def authenticate(db: Database, email: str, password: str) -> User | None:
    async with db.session() as session:
        user = (await session.execute(select(User).where(User.email == email.strip().lower()))).scalar_one_or_none()
    if user is None or not verify_password(user.password_hash, password):
        return None
    return user


async def create_api_token(db: Database, user_id: str, name: str) -> str:
    """A new personal API token (shown once; only its hash is kept)."""
    token = "kp_" + secrets.token_urlsafe(32)
    async with db.session() as session, session.begin():
        session.add(ApiToken(user_id=user_id, name=name, token_hash=_token_hash(token)))
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
            user = await self._token_user(db, header[7:].strip())
            if user is None:
                raise NotAuthorizedException("invalid API token")
            return AuthenticationResult(user=user, auth="token")
        session: Any = connection.scope.get("session") or {}
        user_id = session.get("user_id") if isinstance(session, dict) else None
        if user_id:
            async with db.session() as db_session:
                user = await db_session.get(User, user_id)
            if user is not None:
                if connection.scope.get("method") in UNSAFE:
                    sent = connection.headers.get("x-csrf-token", "")
                    if not sent or not hmac.compare_digest(str(sent), str(session.get("csrf", ""))):
                        raise PermissionDeniedException("missing or wrong CSRF token: reload the page and try again")
                return AuthenticationResult(user=user, auth="session")
        raise NotAuthorizedException("log in first")

    @staticmethod
    async def _token_user(db: Database, token: str) -> User | None:
        async with db.session() as session, session.begin():
            row = (
                await session.execute(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
            ).scalar_one_or_none()
            if row is None:
                return None
            await session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=utcnow()))
            return await session.get(User, row.user_id)
