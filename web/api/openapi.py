"""The error answers every API operation can give, added to the OpenAPI document (``/schema``).

Handlers declare their success answer; the errors come from the same few places for every operation (the log-in
check, the role guard, a path naming something that does not exist, a conflict, an unexpected error with its error
id), so they are documented here once instead of beside each handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema

if TYPE_CHECKING:
    from litestar import Litestar

__all__ = ("document_error_responses",)

_ERROR = Schema(
    type=OpenAPIType.OBJECT,
    required=["status_code", "detail"],
    properties={
        "status_code": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING, description="What went wrong, in plain words"),
        "extra": Schema(description="Per field: the parameter or body field and what is wrong with it"),
        "error_id": Schema(type=OpenAPIType.STRING, description="500 only: the id under which the error was logged"),
    },
)

# The webhook endpoint answers WooCommerce in its own small shape.
_HOOK_ERROR = Schema(
    type=OpenAPIType.OBJECT,
    properties={"error": Schema(type=OpenAPIType.STRING), "detail": Schema(type=OpenAPIType.STRING)},
)

_DESCRIPTIONS = {
    "400": "Bad request: a parameter or body field is missing or wrong (named in `detail` and `extra`)",
    "401": "Not logged in, or the API token is unknown or expired",
    "403": "Your role may not do this (or the CSRF token is missing)",
    "404": "Nothing with this id exists",
    "409": "Conflict: the flow is busy, or a webhook delivery was received before",
    "500": "Unexpected error: logged with the `error_id` shown",
}


def _response(code: str, schema: Schema = _ERROR) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=_DESCRIPTIONS[code], content={"application/json": OpenAPIMediaType(schema=schema)}
    )


def document_error_responses(app: Litestar) -> None:
    """Add the error answers to every operation of the app's OpenAPI document (on start-up, before it is served)."""
    openapi = app.openapi_schema
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            codes = ["400", "500"]
            if path.startswith("/api"):
                codes += ["401", "403"]
            if "{" in path:
                codes.append("404")
            if method != "get":
                codes.append("409")
            if path.startswith("/hooks"):
                codes += ["401", "404", "409"]
            responses = operation.responses if operation.responses is not None else {}
            schema = _HOOK_ERROR if path.startswith("/hooks") else _ERROR
            for code in codes:
                responses.setdefault(code, _response(code, schema))
            operation.responses = responses
