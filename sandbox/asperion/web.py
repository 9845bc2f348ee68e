"""Request plumbing of the simulator's API: bearer auth, tenant choice, bodies, JSON answers, error answers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException

from sandbox.asperion.i18n import negotiate
from sandbox.asperion.mount import ORIGINAL_PATH_KEY
from sandbox.asperion.problems import ProblemError, problem_body

if TYPE_CHECKING:
    from litestar.types import ExceptionHandlersMap

    from sandbox.asperion.state import Tenant
    from sandbox.asperion.tokens import TokenStore

__all__ = (
    "JSON",
    "Ctx",
    "begin",
    "exception_handlers",
    "json_response",
    "read_json",
    "validate_only",
)

JSON = "application/json; charset=utf-8"
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_log = logging.getLogger(__name__)


@dataclass(slots=True)
class Ctx:
    """One authenticated API request."""

    tenant: Tenant
    base: str
    """Scheme, host and mount prefix, without a trailing slash."""
    path: str
    """The path below the prefix, as the client wrote it."""
    params: list[tuple[str, str]]
    query_string: str


def base_url(request: Request[Any, Any, Any]) -> str:
    """The absolute URL of the simulator's root (including the mount prefix), without a trailing slash.

    Args:
        request: The request.

    Returns:
        e.g. ``"http://127.0.0.1:8100/asperion"``.
    """
    return str(request.base_url).rstrip("/")


def begin(request: Request[Any, Any, Any], tokens: TokenStore, tenants: dict[int, Tenant], default: int) -> Ctx:
    """Authenticate an API request and choose its administration.

    Args:
        request: The request.
        tokens: The token store.
        tenants: The administrations the demo user may use.
        default: The user's default administration.

    Returns:
        The request context.

    Raises:
        ProblemError: 401 (missing, unknown or expired bearer token), 400 (a tenant header that is no number),
            403 (an administration the user may not access).
    """
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ProblemError(
            401, detail=("auth.missing", {}), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    valid = tokens.access_valid(token)
    if not valid:
        description = "The access token expired" if valid is False else "The access token is invalid"
        raise ProblemError(
            401,
            detail=("auth.invalid", {}),
            headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
        )
    tenant_id = default
    header = request.headers.get("x-tenant-id") or request.headers.get("x-tenantid")
    if header is not None and header.strip():
        try:
            tenant_id = int(header.strip())
        except ValueError:
            raise ProblemError.field(400, "X-Tenant-Id", "tenant.not_a_number", value=header) from None
    tenant = tenants.get(tenant_id)
    if tenant is None:
        raise ProblemError(403, detail=("tenant.forbidden", {"id": tenant_id}))
    query_string = request.scope.get("query_string", b"").decode("latin-1")
    return Ctx(
        tenant=tenant,
        base=base_url(request),
        path=str(cast("dict[str, Any]", request.scope).get(ORIGINAL_PATH_KEY) or request.scope["path"]),
        params=parse_qsl(query_string, keep_blank_values=True),
        query_string=query_string,
    )


def validate_only(ctx: Ctx) -> bool:
    """Whether the request asks to validate without storing (``?validateOnly=true``).

    Args:
        ctx: The request context.

    Returns:
        The flag.
    """
    return any(key.lower() == "validateonly" and value.strip().lower() in ("true", "1") for key, value in ctx.params)


async def read_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Decode a JSON object body, numbers with a fraction as ``Decimal``.

    Args:
        request: The request.

    Returns:
        The decoded object.

    Raises:
        ProblemError: 415 for a body that is not sent as JSON; 400 for invalid JSON or a non-object.
    """
    media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type not in ("application/json", "text/json") and not media_type.endswith("+json"):
        raise ProblemError(415, detail=("media.json", {}))
    body = await request.body()
    try:
        data = _DECODER.decode(body)
    except msgspec.DecodeError:
        raise ProblemError.field(400, "$", "json.invalid") from None
    if not isinstance(data, dict):
        raise ProblemError.field(400, "$", "json.object")
    return data


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    """A JSON answer (money as JSON numbers with its exact decimals).

    Args:
        data: The JSON-ready data (``Decimal`` allowed).
        status: The HTTP status.
        headers: Extra headers.

    Returns:
        The response.
    """
    return Response(content=_ENCODER.encode(data), status_code=status, media_type=JSON, headers=headers)


def _problem_response(request: Request[Any, Any, Any], error: ProblemError) -> Response[bytes]:
    body = problem_body(error, negotiate(request.headers.get("accept-language")))
    return Response(
        content=_ENCODER.encode(body),
        status_code=error.status,
        media_type="application/problem+json; charset=utf-8",
        headers=error.headers or None,
    )


def _on_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, ProblemError)
    return _problem_response(request, exc)


def _on_http(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, NotFoundException):
        return _problem_response(request, ProblemError(404, detail=("route.not_found", {})))
    if isinstance(exc, MethodNotAllowedException):
        allowed = {key: value for key, value in (exc.headers or {}).items() if key.lower() == "allow"}
        return _problem_response(request, ProblemError(405, detail=("route.method", {}), headers=allowed))
    return _problem_response(request, ProblemError(exc.status_code))


def _on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    _log.exception("Asperion simulator failed on %s %s", request.method, request.url, exc_info=exc)
    return _problem_response(request, ProblemError(500))


exception_handlers: ExceptionHandlersMap = {
    ProblemError: _on_problem,
    HTTPException: _on_http,
    Exception: _on_error,
}
"""The app's exception handlers: every error answer is problem details in the request's language."""
