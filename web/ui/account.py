"""First run, log in, log out and the language switch."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from sqlalchemy import update

from engine.models import User
from web.auth import (
    authenticate,
    clear_failures,
    create_user,
    end_sessions,
    login_wait,
    record_failure,
    session_for,
    throttle_keys,
    user_count,
)
from web.i18n import LANGUAGES
from web.ui.render import language_of, redirect, render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("ACCOUNT_ROUTES",)


def _session(request: Request[Any, Any, Any]) -> dict[str, Any]:
    session: Any = request.scope.get("session") or {}
    return session if isinstance(session, dict) else {}


def _csrf_ok(request: Request[Any, Any, Any], sent: str | None) -> bool:
    expected = str(_session(request).get("csrf") or "")
    sent = sent or request.headers.get("x-csrf-token") or ""
    return bool(expected) and hmac.compare_digest(str(sent), expected)


def _log_in(request: Request[Any, Any, Any], user: User) -> None:
    request.set_session(session_for(user))


@get("/setup", exclude_from_auth=True)
async def setup_page(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    if await user_count(db) > 0:
        return redirect(request, "/login")
    return render(request, "setup.html", error=None, email="")


@post("/setup", exclude_from_auth=True)
async def setup_submit(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Create the first (admin) account; only possible while there is no user at all."""
    if await user_count(db) > 0:
        return redirect(request, "/login")
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    if not _csrf_ok(request, str(form.get("csrf_token", ""))):
        return render(request, "setup.html", error="The form expired: please try again.", email=email, status_code=400)
    if password != str(form.get("password2", "")):
        return render(request, "setup.html", error="The two passwords differ.", email=email, status_code=400)
    try:
        user = await create_user(db, email, password, is_admin=True, language=language_of(request))
    except ValueError as exc:
        return render(request, "setup.html", error=str(exc).capitalize() + ".", email=email, status_code=400)
    _log_in(request, user)
    return redirect(request, "/")


@get("/login", exclude_from_auth=True)
async def login_page(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    if await user_count(db) == 0:
        return redirect(request, "/setup")
    return render(request, "login.html", error=None, email="")


@post("/login", exclude_from_auth=True)
async def login_submit(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    if not _csrf_ok(request, str(form.get("csrf_token", ""))):
        return render(request, "login.html", error="The form expired: please try again.", email=email, status_code=400)
    keys = throttle_keys(email, request.client.host if request.client else "")
    wait = await login_wait(db, keys)
    if wait:
        return _too_many(request, email, wait)
    user = await authenticate(db, email, password)
    if user is None:
        await record_failure(db, keys)
        return render(request, "login.html", error="Wrong e-mail address or password.", email=email, status_code=400)
    await clear_failures(db, keys)
    _log_in(request, user)
    return redirect(request, "/")


def _too_many(request: Request[Any, Any, Any], email: str, wait: int) -> Response[str]:
    """429: too many failed log-ins for this account or from this address."""
    return render(
        request,
        "login.html",
        error="Too many failed log-ins. Wait {seconds} seconds and try again.",
        error_values={"seconds": wait},
        email=email,
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


@post("/logout")
async def logout(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Log out everywhere: every session of this user ends, on every server (a copied cookie too)."""
    lang = language_of(request)
    user = request.scope.get("user")
    if user is not None:
        await end_sessions(db, user.id)
    request.set_session({"lang": lang})
    return redirect(request, "/login")


@post("/lang", exclude_from_auth=True)
async def switch_language(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Switch the UI language; stored on the user when logged in, else in the session."""
    form = await request.form()
    lang = str(form.get("lang", "en"))
    back = str(form.get("next", "/"))
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    if lang not in LANGUAGES or not _csrf_ok(request, str(form.get("csrf_token", "")) or None):
        return redirect(request, back)
    session = dict(_session(request))
    session["lang"] = lang
    if session.get("user_id"):
        async with db.session() as db_session, db_session.begin():
            await db_session.execute(update(User).where(User.id == session["user_id"]).values(language=lang))
    request.set_session(session)
    return redirect(request, back)


ACCOUNT_ROUTES = [setup_page, setup_submit, login_page, login_submit, logout, switch_language]
