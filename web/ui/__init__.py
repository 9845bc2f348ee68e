"""Server-rendered pages (Jinja2 + htmx): one router whose errors become pages or redirects to the login."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)

from web.i18n import translate
from web.ui.account import ACCOUNT_ROUTES
from web.ui.connections import CONNECTION_ROUTES
from web.ui.dashboard import DASHBOARD_ROUTES
from web.ui.editor import EDITOR_ROUTES
from web.ui.flows import FLOW_ROUTES
from web.ui.gallery import GALLERY_ROUTES
from web.ui.inbox import INBOX_ROUTES
from web.ui.reconcile import RECONCILE_ROUTES
from web.ui.render import language_of, redirect, render
from web.ui.runs import RUN_ROUTES
from web.ui.tokens import TOKEN_ROUTES
from web.ui.users import USER_ROUTES
from web.ui.wizard import WIZARD_ROUTES
from web.ui_automation import AUTOMATION_UI_ROUTES

__all__ = ("ROUTES",)


def _to_login(request: Request[Any, Any, Any], _exc: Exception) -> Response[str]:
    return redirect(request, "/login")


def _forbidden(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    detail = translate(language_of(request), getattr(exc, "detail", "") or "You may not do this.")
    if request.headers.get("hx-request"):
        return render(request, "fragments/alert.html", kind="error", message=detail, status_code=403)
    return render(request, "error.html", title="Not allowed", message=detail, status_code=403)


def _bad_input(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """Input refused before any page handler saw it (NUL characters, a malformed field)."""
    lang = language_of(request)
    message = f"{translate(lang, 'Some input was not accepted:')} {getattr(exc, 'detail', '')}"
    if request.headers.get("hx-request"):
        return render(request, "fragments/alert.html", kind="error", message=message, status_code=400)
    return render(request, "error.html", title="Not accepted", message=message, status_code=400)


def _not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    detail = getattr(exc, "detail", "") or "This page does not exist."
    return render(request, "error.html", title="Not found", message=detail, status_code=404)


ui_router = Router(
    path="/",
    route_handlers=[
        *ACCOUNT_ROUTES,
        *DASHBOARD_ROUTES,
        *CONNECTION_ROUTES,
        *GALLERY_ROUTES,
        *EDITOR_ROUTES,
        *RUN_ROUTES,
        *INBOX_ROUTES,
        *FLOW_ROUTES,
        *TOKEN_ROUTES,
        *AUTOMATION_UI_ROUTES,
        *WIZARD_ROUTES,
        *USER_ROUTES,
        *RECONCILE_ROUTES,
    ],
    exception_handlers={
        NotAuthorizedException: _to_login,
        PermissionDeniedException: _forbidden,
        NotFoundException: _not_found,
        ValidationException: _bad_input,
    },
    include_in_schema=False,
)

ROUTES: list[Any] = [ui_router]
