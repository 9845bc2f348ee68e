"""Target nodes: deliver a record to an application exactly once (find existing → build → send)."""

from __future__ import annotations

__all__ = ()
