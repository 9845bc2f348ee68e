"""A very small ASGI toolkit for the simulators: requests, responses, routing, mount-aware URLs.

The simulators answer many small requests and must never be the bottleneck of a benchmark, so they speak
ASGI directly (msgspec for JSON) instead of going through a framework's validation layers. The same app is
served on its own port by ``koppel sandbox`` and mounted under ``/sandbox`` inside the Koppel web server,
so every absolute URL is built from the request's own base URL (scheme, host and mount prefix).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import msgspec

__all__ = (
    "JSON_HEADERS",
    "Request",
    "Response",
    "Route",
    "Router",
    "dumps",
    "json_response",
    "loads",
    "read_body",
    "send_response",
    "split_scope",
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()

JSON_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"content-type", b"application/json; charset=UTF-8"),)


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as compact JSON bytes (non-ASCII kept as UTF-8)."""
    return _encoder.encode(obj)


def loads(data: bytes | str) -> Any:
    """Decode JSON bytes."""
    return _decoder.decode(data)


@dataclass(slots=True)
class Response:
    """An HTTP response ready to be sent."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def json_response(obj: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A JSON response (``obj`` already bytes is sent as is)."""
    body = obj if isinstance(obj, bytes) else dumps(obj)
    hdrs = list(JSON_HEADERS)
    hdrs.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)
    return Response(status, body, hdrs)


def split_scope(scope: dict[str, Any]) -> tuple[str, str]:
    """Return ``(prefix, path)``: the mount prefix of this app and the path below it.

    Handles a plain server (``root_path`` empty), a server with ``root_path`` (path includes it, as uvicorn
    does), and a Litestar mount (``path`` is the remainder with a trailing slash, ``raw_path`` the full one).
    """
    path: str = scope.get("path") or "/"
    root: str = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    raw = scope.get("raw_path")
    prefix = root
    if raw:
        full = unquote(raw.decode("latin-1").split("?", 1)[0])
        rel = path.rstrip("/")
        if rel and full.rstrip("/").endswith(rel):
            prefix = full.rstrip("/")[: len(full.rstrip("/")) - len(rel)]
        elif not rel:
            prefix = full.rstrip("/")
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return prefix, path


class Request:
    """The parts of an ASGI HTTP request the simulators need."""

    __slots__ = ("_query", "body", "headers", "method", "path", "prefix", "query_string", "scope", "server_url")

    def __init__(self, scope: dict[str, Any], body: bytes, prefix: str, path: str) -> None:
        self.scope = scope
        self.method: str = scope["method"]
        self.path = path
        self.prefix = prefix
        self.body = body
        self.query_string: str = scope.get("query_string", b"").decode("latin-1")
        self.headers: dict[str, str] = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self._query: list[tuple[str, str]] | None = None
        host = self.headers.get("host")
        if not host:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        self.server_url = f"{scope.get('scheme', 'http')}://{host}"

    @property
    def query(self) -> list[tuple[str, str]]:
        """Query parameters in order, as decoded pairs."""
        if self._query is None:
            self._query = parse_qsl(self.query_string, keep_blank_values=True)
        return self._query

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The last value of query parameter ``name``."""
        value = default
        for k, v in self.query:
            if k == name:
                value = v
        return value

    def has_arg(self, name: str) -> bool:
        """True when the query has ``name`` (or ``name[]``)."""
        return any(k == name or k.startswith(name + "[") for k, _ in self.query)

    def without(self, name: str) -> Request:
        """The same request without query parameter ``name`` (to share work between requests that differ in it)."""
        clone = copy.copy(self)
        clone._query = [(k, v) for k, v in self.query if k != name]
        return clone

    def arg_list(self, name: str) -> list[str]:
        """A list parameter: ``a=1,2``, ``a[]=1&a[]=2`` or repeated ``a=`` all work (as in WordPress)."""
        out: list[str] = []
        for k, v in self.query:
            if k == name or k.startswith(name + "["):
                out.extend(p.strip() for p in v.split(",") if p.strip())
        return out

    @property
    def base_url(self) -> str:
        """Scheme, host and the full mount prefix (no trailing slash)."""
        return self.server_url + self.prefix

    def json(self) -> Any:
        """The JSON body (an empty body is ``{}``); form bodies are decoded into a dict."""
        if not self.body.strip():
            return {}
        ctype = self.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype:
            return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        return loads(self.body)


async def read_body(receive: Callable[[], Awaitable[dict[str, Any]]]) -> bytes:
    """Read the whole request body."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def send_response(send: Callable[[dict[str, Any]], Awaitable[None]], resp: Response) -> None:
    """Send ``resp`` with a Content-Length."""
    headers = [*resp.headers, (b"content-length", str(len(resp.body)).encode())]
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    await send({"type": "http.response.body", "body": resp.body})


Handler = Callable[..., Any]


@dataclass(slots=True)
class Route:
    """One route: method, template (``{name}`` or ``{name:int}`` placeholders) and handler."""

    method: str
    template: str
    handler: Handler
    regex: re.Pattern[str]
    converters: dict[str, Callable[[str], Any]]


_PARAM = re.compile(r"\{(\w+)(?::(int|str|path))?\}")


class Router:
    """Matches ``(method, path)`` against templates in registration order."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._plain: dict[tuple[str, str], Route] = {}

    def add(self, method: str, template: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` and ``template``."""
        converters: dict[str, Callable[[str], Any]] = {}

        def repl(m: re.Match[str]) -> str:
            name, kind = m.group(1), m.group(2) or "str"
            if kind == "int":
                converters[name] = int
                return rf"(?P<{name}>\d+)"
            converters[name] = str
            return rf"(?P<{name}>.+)" if kind == "path" else rf"(?P<{name}>[^/]+)"

        pattern = "^" + _PARAM.sub(repl, template) + "$"
        route = Route(
            method, _PARAM.sub(lambda m: "{" + m.group(1) + "}", template), handler, re.compile(pattern), converters
        )
        self.routes.append(route)
        if not converters:
            self._plain[(method, template)] = route

    def match(self, method: str, path: str) -> tuple[Route, dict[str, Any]] | None:
        """The matching route and its converted parameters, or None."""
        plain = self._plain.get((method, path))
        if plain is not None:
            return plain, {}
        for route in self.routes:
            if route.method != method:
                continue
            m = route.regex.match(path)
            if m:
                return route, {k: route.converters[k](v) for k, v in m.groupdict().items()}
        return None

    def template_for(self, path: str) -> str | None:
        """The template of any route (any method) matching ``path``."""
        for route in self.routes:
            if route.regex.match(path):
                return route.template
        return None
