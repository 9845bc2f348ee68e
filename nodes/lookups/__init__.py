"""Lookup nodes: enrich a record with a value found (or created) in another application."""

from __future__ import annotations

__all__ = ()
