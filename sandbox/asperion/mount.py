"""ASGI wrapper that lets the simulator work under any mount prefix and routes case-insensitively.

Whoever mounts the app (Litestar ``asgi(..., is_mount=True)``, Starlette ``Mount``, uvicorn ``--root-path``), the
wrapper works out the prefix the client used, so that absolute URLs (``_meta.self``, ``nextPage``) carry it. Like
ASP.NET, the API's route names match without regard to case (``/v1/SalesOrderWithLines`` =
``/v1/salesorderwithlines``); ids in the path keep their case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Scope

__all__ = ("ORIGINAL_PATH_KEY", "PrefixAware", "split_prefix")

ORIGINAL_PATH_KEY = "koppel.asperion.path"
"""Scope key holding the request path below the prefix, in the client's spelling."""
_CASE_FOLDED_SEGMENTS = (1, 2, 4)
"""``/v1/<resource>/<id>/<sub>``, ``/connect/<endpoint>``: every segment but the id."""


def split_prefix(scope: Scope) -> tuple[str, str]:
    """Split a request path into the mount prefix and the path below it.

    Args:
        scope: The ASGI scope as the mounting app passes it on.

    Returns:
        ``(prefix, inner path)``, e.g. ``("/sandbox/asperion", "/v1/debtors")``.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "") or ""
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return root, path[len(root) :] or "/"
    raw = scope.get("raw_path")
    if raw:
        full = unquote(bytes(raw).decode("latin-1").split("?", 1)[0])
        if full.endswith(path):
            return full[: len(full) - len(path)], path
        trimmed = path.rstrip("/")
        if path.endswith("/") and full.rstrip("/").endswith(trimmed):
            # a Litestar mount hands on the remaining path with a trailing slash added
            stem = full.rstrip("/")
            return stem[: len(stem) - len(trimmed)], trimmed or "/"
    return root, path


class PrefixAware:
    """Normalises the scope for the inner Litestar app: ``root_path`` = prefix, ``path`` = prefix + inner path."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        """Wrap an app.

        Args:
            app: The simulator's Litestar app.
        """
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Handle one ASGI connection (typed loosely so that any ASGI server or mounting app may call it).

        Args:
            scope: The ASGI scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        prefix, inner = split_prefix(scope)
        segments = inner.split("/")
        routed = "/".join(
            segment.lower() if index in _CASE_FOLDED_SEGMENTS else segment for index, segment in enumerate(segments)
        )
        new_scope = cast("dict[str, Any]", dict(scope))
        new_scope["root_path"] = prefix
        new_scope["path"] = prefix + routed
        new_scope[ORIGINAL_PATH_KEY] = inner
        new_scope.pop("app_root_path", None)
        new_scope["state"] = {}  # the mounting app's cached connection state (base URL, …) is not ours
        await self.app(cast("Scope", new_scope), receive, send)
