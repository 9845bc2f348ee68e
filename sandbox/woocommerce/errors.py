"""WordPress/WooCommerce REST errors: ``{"code", "message", "data": {"status", ...}}``."""

from __future__ import annotations

from typing import Any

from sandbox.http import Response, json_response

__all__ = ("WooError", "invalid_id", "invalid_param", "no_route")


class WooError(Exception):
    """An error answer; ``status`` equals ``data.status``."""

    def __init__(
        self, code: str, message: str, status: int, headers: dict[str, str] | None = None, **data: Any
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.data = data
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}

    def response(self) -> Response:
        """As a response."""
        return json_response(self.body(), self.status, self.headers.items())


def invalid_id(kind: str, status: int = 404) -> WooError:
    """``woocommerce_rest_<kind>_invalid_id`` "Invalid ID." (kind ``shop_order``, ``product``, … or ``""``)."""
    if not kind:
        return WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", status)
    return WooError(f"woocommerce_rest_{kind}_invalid_id", "Invalid ID.", status)


def invalid_param(param: str, message: str, code: str = "rest_invalid_param_value") -> WooError:
    """WordPress core's schema validation error for one parameter."""
    return WooError(
        "rest_invalid_param",
        f"Invalid parameter(s): {param}",
        400,
        params={param: message},
        details={param: {"code": code, "message": message, "data": None}},
    )


def no_route() -> WooError:
    """404 ``rest_no_route``."""
    return WooError("rest_no_route", "No route was found matching the URL and request method", 404)
