"""Users and their roles (owner only), invitations, the audit trail, and changing one's own password."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from engine.models import Role
from web.accounts import (
    AccountError,
    accept_invite,
    change_password,
    invite_user,
    list_audit,
    list_users,
    open_invite,
    remove_user,
    set_role,
)
from web.auth import session_for
from web.ui.render import current_user, language_of, redirect, render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("USER_ROUTES",)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


async def _users_page(
    request: Request[Any, Any, Any], db: Database, *, error: str | None = None, invite_link: str | None = None
) -> Response[str]:
    return render(
        request,
        "users.html",
        users=await list_users(db),
        roles=Role.ORDER,
        error=error,
        invite_link=invite_link,
        status_code=400 if error else 200,
    )


@get("/users")
async def users_page(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Every account with its role; invite someone, change a role, remove an account."""
    return await _users_page(request, db)


@post("/users/invite")
async def invite(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    form = await request.form()
    email, role = str(form.get("email", "")), str(form.get("role", Role.VIEWER))
    try:
        new = await invite_user(db, email, role, invited_by=current_user(request).email)
    except AccountError as exc:
        return await _users_page(request, db, error=_sentence(str(exc)))
    return await _users_page(request, db, invite_link=str(request.base_url).rstrip("/") + new.path)


@post("/users/{user_id:str}/role")
async def change_role(request: Request[Any, Any, Any], db: Database, user_id: str) -> Response[str]:
    form = await request.form()
    try:
        await set_role(db, user_id, str(form.get("role", "")))
    except AccountError as exc:
        return await _users_page(request, db, error=_sentence(str(exc)))
    except LookupError as exc:
        raise NotFoundException("This user does not exist.") from exc
    return redirect(request, "/users")


@post("/users/{user_id:str}/remove")
async def remove(request: Request[Any, Any, Any], db: Database, user_id: str) -> Response[str]:
    try:
        await remove_user(db, user_id)
    except AccountError as exc:
        return await _users_page(request, db, error=_sentence(str(exc)))
    except LookupError as exc:
        raise NotFoundException("This user does not exist.") from exc
    return redirect(request, "/users")


@get("/audit")
async def audit_page(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Who changed which flow, connection or user, newest first."""
    return render(request, "audit.html", events=await list_audit(db, limit=200))


@get("/invite/{token:str}", exclude_from_auth=True)
async def invite_page(request: Request[Any, Any, Any], db: Database, token: str) -> Response[str]:
    invite = await open_invite(db, token)
    return render(request, "invite.html", invite=invite, token=token, error=None, status_code=200 if invite else 404)


@post("/invite/{token:str}", exclude_from_auth=True)
async def invite_submit(request: Request[Any, Any, Any], db: Database, token: str) -> Response[str]:
    """Accept an invitation: choose a password, and you are logged in with the role the owner chose."""
    from web.ui.account import _csrf_ok

    form = await request.form()
    password = str(form.get("password", ""))
    invite = await open_invite(db, token)
    error = None
    if not _csrf_ok(request, str(form.get("csrf_token", ""))):
        error = "The form expired: please try again."
    elif password != str(form.get("password2", "")):
        error = "The two passwords differ."
    if error is None:
        try:
            user = await accept_invite(db, token, password, language=language_of(request))
        except AccountError as exc:
            error = _sentence(str(exc))
        else:
            request.set_session(session_for(user))
            return redirect(request, "/")
    return render(request, "invite.html", invite=invite, token=token, error=error, status_code=400)


@get("/account/password")
async def password_page(request: Request[Any, Any, Any]) -> Response[str]:
    return render(request, "password.html", error=None, done=False)


@post("/account/password")
async def password_submit(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Change the password: every other session of this account ends; this one continues."""
    user = current_user(request)
    form = await request.form()
    new = str(form.get("password", ""))
    if new != str(form.get("password2", "")):
        return render(request, "password.html", error="The two passwords differ.", done=False, status_code=400)
    try:
        user.session_generation = await change_password(db, user, str(form.get("current", "")), new)
    except AccountError as exc:
        return render(request, "password.html", error=_sentence(str(exc)), done=False, status_code=400)
    request.set_session(session_for(user, language_of(request)))
    return render(request, "password.html", error=None, done=True)


USER_ROUTES = [
    users_page,
    invite,
    change_role,
    remove,
    audit_page,
    invite_page,
    invite_submit,
    password_page,
    password_submit,
]
