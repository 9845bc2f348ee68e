"""Dependencies shared by API handlers and pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from litestar.datastructures import State

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("provide_db",)


async def provide_db(state: State) -> Database:
    return cast("Database", state.db)
