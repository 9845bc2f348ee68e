"""Mapping of domain errors to HTTP answers with clear bodies."""

from __future__ import annotations

from typing import Any

from litestar.exceptions import HTTPException

__all__ = ("bad_request", "conflict", "not_found")


class ApiProblem(HTTPException):
    pass


def bad_request(message: str, problems: list[Any] | None = None) -> HTTPException:
    return ApiProblem(status_code=400, detail=message, extra={"problems": problems or []})


def not_found(message: str) -> HTTPException:
    return ApiProblem(status_code=404, detail=message)


def conflict(message: str) -> HTTPException:
    return ApiProblem(status_code=409, detail=message)
