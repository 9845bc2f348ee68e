"""Hostile input stops at the door, and an unexpected error becomes a plain message with an error id.

- :func:`check_request` (an app-wide ``before_request`` hook) refuses, with 400 and the field named, what the
  databases or the JSON parser would choke on: NUL characters (PostgreSQL cannot store them) in the path, a query
  parameter, a form field or anywhere in a JSON body, and JSON nested deeper than :data:`MAX_DEPTH`.
- :func:`server_error` (the handler of every otherwise unhandled exception) logs the traceback under a short error
  id and shows the user only that id with a plain sentence, in their language; never a traceback.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from litestar import MediaType, Request, Response
from litestar.exceptions import ValidationException

from engine.inputs import MAX_DEPTH, json_depth, nul_location

if TYPE_CHECKING:
    from litestar.types import Scope

__all__ = ("MAX_DEPTH", "check_json", "check_request", "server_error")

log = logging.getLogger("koppel.web.errors")


def _refuse(field: str, message: str) -> ValidationException:
    return ValidationException(detail=f"{field}: {message}", extra=[{"key": field, "message": message}])


def check_json(body: bytes) -> None:
    """Raise a 400 for a JSON body nested too deep or holding a NUL character (invalid JSON is left to the handler)."""
    if not body:
        return
    if json_depth(body) > MAX_DEPTH:
        raise _refuse("body", f"nested deeper than {MAX_DEPTH} levels")
    if b"\\u0000" not in body and b"\x00" not in body:
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        raise _refuse("body", "text may not contain NUL characters") from None
    where = nul_location(parsed)
    if where:
        raise _refuse(where, "text may not contain NUL characters")


async def check_request(request: Request[Any, Any, Any]) -> None:
    """``before_request``: refuse NUL characters and over-deep JSON before any handler or model sees them."""
    if "\x00" in request.url.path or "%00" in request.scope.get("raw_path", b"").decode("latin-1"):
        raise _refuse("path", "may not contain NUL characters")
    query = request.scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or "\x00" in query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                raise _refuse(name.replace("\x00", "") or "query", "may not contain NUL characters")
        raise _refuse("query", "may not contain NUL characters")
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        check_json(await request.body())
    elif "application/x-www-form-urlencoded" in content_type:
        body = await request.body()
        if b"%00" in body or b"\x00" in body:
            for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
                if "\x00" in unquote(value) or "\x00" in name:
                    raise _refuse(name, "may not contain NUL characters")
            raise _refuse("form", "may not contain NUL characters")


def _wants_html(scope: Scope, request: Request[Any, Any, Any]) -> bool:
    path = str(scope.get("path", ""))
    if path.startswith(("/api", "/hooks", "/schema", "/health")):
        return False
    return "text/html" in request.headers.get("accept", "") or bool(request.headers.get("hx-request"))


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Log the traceback under an error id; show the id and a plain sentence (in the user's language)."""
    error_id = secrets.token_hex(4)
    log.error("error %s on %s %s: %s", error_id, request.method, request.url.path, type(exc).__name__, exc_info=exc)
    message = "Something went wrong on our side. The error has been logged with id {error_id}."
    if _wants_html(request.scope, request):
        from web.ui.render import render

        try:
            if request.headers.get("hx-request"):
                from web.i18n import translate
                from web.ui.render import language_of

                text = translate(language_of(request), message).format(error_id=error_id)
                return render(request, "fragments/alert.html", kind="error", message=text, status_code=500)
            return render(
                request,
                "server_error.html",
                title="Something went wrong",
                message=message,
                error_id=error_id,
                status_code=500,
            )
        except Exception:  # the page itself failed: fall back to the plain JSON answer
            log.exception("error %s: the error page could not be rendered", error_id)
    return Response(
        {"status_code": 500, "detail": message.format(error_id=error_id), "error_id": error_id},
        status_code=500,
        media_type=MediaType.JSON,
    )
