"""ASP.NET-style problem details: the error bodies of the Asperion simulator.

Validation code raises :class:`ProblemError` with message *keys*; the app renders them in the language of the
request, as ``{"type", "title", "status", "detail", "traceId", "errors": {"<Field>": ["message"]}}``.
"""

from __future__ import annotations

import secrets
from typing import Any

from sandbox.asperion.i18n import MESSAGES, Language, text

__all__ = ("Errors", "Message", "ProblemError", "problem_body")

Message = tuple[str, dict[str, object]]
"""A message key with its placeholder values."""

_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    403: "https://tools.ietf.org/html/rfc9110#section-15.5.4",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
    415: "https://tools.ietf.org/html/rfc9110#section-15.5.16",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
}


class ProblemError(Exception):
    """An error answer; raised anywhere below a handler, rendered by the app's exception handler."""

    def __init__(
        self,
        status: int,
        *,
        errors: dict[str, list[Message]] | None = None,
        detail: Message | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Create the error.

        Args:
            status: The HTTP status.
            errors: Field errors: the field's name (PascalCase) → messages.
            detail: One message for the ``detail`` member.
            headers: Extra response headers (e.g. ``WWW-Authenticate``).
        """
        super().__init__(status, detail)
        self.status = status
        self.errors = errors or {}
        self.detail = detail
        self.headers = headers or {}

    @classmethod
    def field(cls, status: int, field: str, key: str, /, **params: object) -> ProblemError:
        """An error about one field.

        Args:
            status: The HTTP status (400 or 409).
            field: The field's name as the client knows it (PascalCase).
            key: The message key.
            **params: The message's placeholder values.

        Returns:
            The error, to be raised.
        """
        return cls(status, errors={field: [(key, params)]})


class Errors:
    """Collects field errors of one request, so that the client learns all of them at once."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        """Start without errors."""
        self.items: dict[str, list[Message]] = {}

    def add(self, field: str, key: str, /, **params: object) -> None:
        """Record a field error.

        Args:
            field: The field's name (PascalCase, or a JSON path for conversion errors).
            key: The message key.
            **params: The message's placeholder values.
        """
        self.items.setdefault(field, []).append((key, params))

    def __bool__(self) -> bool:
        """Whether any error was recorded."""
        return bool(self.items)

    def raise_if_any(self, status: int = 400) -> None:
        """Raise a :class:`ProblemError` with every recorded error, if any.

        Args:
            status: The HTTP status to answer with.

        Raises:
            ProblemError: when errors were recorded.
        """
        if self.items:
            raise ProblemError(status, errors=self.items)


def problem_body(error: ProblemError, language: Language) -> dict[str, Any]:
    """The JSON body of an error answer.

    Args:
        error: The error.
        language: The language of the request.

    Returns:
        The problem details object.
    """
    status = error.status
    title_key = f"title.{status}"
    if title_key not in MESSAGES:
        title_key = "title.400" if status < 500 else "title.500"
    title = text(title_key, language)
    body: dict[str, Any] = {
        "type": _TYPES.get(status, _TYPES[400] if status < 500 else _TYPES[500]),
        "title": title,
        "status": status,
        "detail": text(error.detail[0], language, error.detail[1]) if error.detail else "",
        "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
    }
    if error.errors:
        body["errors"] = {
            field: [text(key, language, params) for key, params in messages] for field, messages in error.errors.items()
        }
    return body
