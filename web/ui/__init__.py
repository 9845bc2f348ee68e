"""Server-rendered pages (Jinja2 + htmx)."""

from __future__ import annotations

from typing import Any

__all__ = ("ROUTES",)

ROUTES: list[Any] = []
