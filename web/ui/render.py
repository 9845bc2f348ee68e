"""Rendering pages: one Jinja environment (autoescape on), the user's language, CSRF token and formatting filters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar import Request, Response
from litestar.enums import MediaType

from web.auth import csrf_token
from web.i18n import (
    LANGUAGES,
    fmt_date,
    fmt_datetime,
    fmt_number,
    fmt_percent,
    pick_language,
    translate,
    translate_message,
)

__all__ = ("ENV", "current_user", "html", "language_of", "redirect", "render", "render_string")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pass_context
def _gettext(ctx: Context, message: str, **values: Any) -> str:
    text = translate(ctx.get("lang") or "en", message)
    return text.format(**values) if values else text


@pass_context
def _num(ctx: Context, value: Any, decimals: int | None = None) -> str:
    return fmt_number(value, ctx.get("lang") or "en", decimals=decimals)


@pass_context
def _pct(ctx: Context, value: Any) -> str:
    return fmt_percent(value, ctx.get("lang") or "en")


@pass_context
def _dt(ctx: Context, value: Any) -> str:
    return fmt_datetime(value, ctx.get("lang") or "en")


@pass_context
def _day(ctx: Context, value: Any) -> str:
    return fmt_date(value, ctx.get("lang") or "en")


@pass_context
def _msg(ctx: Context, value: Any) -> str:
    """A message of the engine or a node in the page's language."""
    return translate_message(ctx.get("lang") or "en", None if value is None else str(value))


@pass_context
def _sentences(ctx: Context, messages: Any) -> str:
    """A record's messages in the page's language as one sentence: "Booked as sales invoice 146 for Daan Bakker,
    €55.94; booked as credit invoice 147, -€22.81" (a later part starts lower-case unless it opens with a name)."""
    lang = ctx.get("lang") or "en"
    parts: list[str] = []
    for message in messages or ():
        text = translate_message(lang, str(message)).strip().rstrip(".;")
        if parts and len(text) > 1 and text[0].isupper() and text[1].islower():
            text = text[0].lower() + text[1:]
        if text:
            parts.append(text)
    return "; ".join(parts)


def _pretty(value: Any) -> str:
    """JSON, indented, for a ``<pre>`` (escaped by autoescape like every other value)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)


def _tojson_attr(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals["_"] = _gettext
ENV.globals["LANGUAGES"] = LANGUAGES
ENV.filters["num"] = _num
ENV.filters["pct"] = _pct
ENV.filters["dt"] = _dt
ENV.filters["day"] = _day
ENV.filters["pretty"] = _pretty
ENV.filters["msg"] = _msg
ENV.filters["sentences"] = _sentences
ENV.filters["jsonattr"] = _tojson_attr


def current_user(request: Request[Any, Any, Any]) -> Any:
    return request.scope.get("user")


def language_of(request: Request[Any, Any, Any]) -> str:
    user = current_user(request)
    if user is not None and getattr(user, "language", None) in LANGUAGES:
        return str(user.language)
    session: Any = request.scope.get("session") or {}
    if isinstance(session, dict) and session.get("lang") in LANGUAGES:
        return str(session["lang"])
    return pick_language(request.headers.get("accept-language"))


def render_string(request: Request[Any, Any, Any], template_name: str, /, **context: Any) -> str:
    lang = language_of(request)
    base = {
        "request": request,
        "user": current_user(request),
        "lang": lang,
        "csrf": csrf_token(request),
        "path": request.url.path,
    }
    return ENV.get_template(template_name).render({**base, **context})


def render(
    request: Request[Any, Any, Any],
    template_name: str,
    /,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    """A page or fragment as an HTML response."""
    return html(render_string(request, template_name, **context), status_code=status_code, headers=headers)


def html(body: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(body, media_type=MediaType.HTML, status_code=status_code, headers=headers or {})


def redirect(request: Request[Any, Any, Any], url: str) -> Response[str]:
    """Go to ``url``: an ``HX-Redirect`` for htmx requests, a 303 otherwise."""
    if request.headers.get("hx-request"):
        return html("", headers={"HX-Redirect": url})
    return Response("", status_code=303, headers={"Location": url})
