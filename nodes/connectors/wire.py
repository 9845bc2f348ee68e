"""Koppel's own HTTP/1.1 transport for the connector clients: a keep-alive pool and the wire protocol on asyncio.

httpx's client layer (auth, cookies, content decoding, the :class:`httpx.Response`) stays; only the connection pool
and the protocol below it are replaced. httpcore's versions of those cost about as much CPU per request as the rest of
a run put together (py-spy, ``bench/engine.py``): its pool walks every connection at every request start and end,
and each read or write goes through anyio locks, cancel scopes, ``sniffio`` look-ups and h11's event machinery. Here
a connection is an :class:`asyncio.Protocol`: the event loop hands it the bytes and tells it when the server closed
the connection, so an idle connection the server closed is known without a system call, and a request costs one
write, one wait for the answer and a few ``bytes`` operations.

What it does: a keep-alive pool bounded by the client's :class:`httpx.Limits` (a request waits for a free
connection; ``pool`` timeout → :class:`httpx.PoolTimeout`), keep-alive expiry and ``Connection: close``, TLS with the
client's own SSL context, request bodies with ``Content-Length`` or chunked as httpx framed them, responses framed by
``Content-Length``, chunked or the end of the connection (HEAD, 1xx, 204 and 304 without a body), and the httpx
exceptions httpcore would raise for the same failures (the retry policy in :mod:`nodes.connectors.http` classifies
errors by their type). :func:`install` leaves a client it cannot serve (a proxy, HTTP/2, a unix socket, an injected
transport) with httpx's own transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import cast

import httpcore
import httpx

__all__ = ("LeanTransport", "install")

Origin = tuple[bytes, bytes, int]
"""Scheme, host and port of a server: connections are only reused for the origin they were opened to."""

_DEFAULT_PORTS = {b"http": 80, b"https": 443}
_HEAD_END = re.compile(rb"\n\r?\n")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_MAX_HEAD = 100 * 1024  # as httpcore: a longer response head is a protocol error
_MAX_LINE = 64 * 1024
_READ_PAUSE = 1 << 20  # stop reading from the socket while this much is buffered and not yet taken
_WRITE_BATCH = 64 * 1024  # a request's head and body are written together up to this size


def install(client: httpx.AsyncClient, limits: httpx.Limits) -> None:
    """Serve ``client``'s own requests with a :class:`LeanTransport` bounded by ``limits`` (those it was made with).

    Only a client whose transport is httpx's default one, for plain HTTP/1.1 over TCP, changes; a proxy (from the
    environment: its own mount, which keeps httpx's transport), HTTP/2, a unix socket, a local address, socket
    options or a transport a test injected keep what httpx built.
    """
    inner = getattr(client, "_transport", None)
    pool = getattr(inner, "_pool", None)
    if type(inner) is not httpx.AsyncHTTPTransport or type(pool) is not httpcore.AsyncConnectionPool:
        return
    plain = (
        getattr(pool, "_http1", False)
        and not getattr(pool, "_http2", True)
        and getattr(pool, "_uds", "") is None
        and getattr(pool, "_local_address", "") is None
        and not getattr(pool, "_socket_options", True)
        and getattr(pool, "_retries", 1) == 0
        and getattr(pool, "_proxy", "") is None
    )
    context = getattr(pool, "_ssl_context", None)
    if plain and isinstance(context, ssl.SSLContext):
        client._transport = LeanTransport(limits, ssl_context=context, fallback=inner)


class LeanTransport(httpx.AsyncBaseTransport):
    """An HTTP/1.1 transport with a keep-alive pool, for ``http`` and ``https`` URLs.

    Args:
        limits: connections at most (all origins together), idle connections kept at most, keep-alive expiry.
        ssl_context: the context for ``https`` (None: the one httpx builds for ``verify=True``).
        fallback: the transport for any other scheme (closed with this one).
    """

    def __init__(
        self,
        limits: httpx.Limits,
        *,
        ssl_context: ssl.SSLContext | None = None,
        fallback: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._ssl_context = ssl_context
        self._fallback = fallback
        self._pool = _Pool(limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        default_port = _DEFAULT_PORTS.get(scheme)
        if default_port is None:
            if self._fallback is None:
                raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.")
            return await self._fallback.handle_async_request(request)
        timeouts = request.extensions.get("timeout") or {}
        origin = (scheme, url.raw_host, url.port or default_port)
        pool = self._pool
        conn = await pool.acquire(origin, timeouts.get("pool"))
        if conn is None:  # a free place: open a new connection in it
            try:
                conn = await self._connect(origin, timeouts.get("connect"))
            except BaseException:
                pool.free_place()
                raise
        try:
            keep = await _send(conn, request, timeouts.get("write"))
            return await _receive(pool, conn, request.method, keep, timeouts.get("read"))
        except BaseException:
            pool.release(conn, keep=False, broken=True)
            raise

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        hostname = host.decode("ascii")
        context = None
        if scheme == b"https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            context = self._ssl_context
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(origin),
                    hostname,
                    port,
                    ssl=context,
                    server_hostname=hostname if context is not None else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "the connection timed out") from exc
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError("Connection refused") from exc
        except (OSError, ValueError) as exc:  # ssl.SSLError and ssl.CertificateError included
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return conn

    async def aclose(self) -> None:
        await self._pool.close()
        if self._fallback is not None:
            await self._fallback.aclose()


# --- one connection -------------------------------------------------------------------------------------------


def _expire(waiter: asyncio.Future[None], error: Callable[[], Exception]) -> None:
    if not waiter.done():
        waiter.set_exception(error())


def _read_timeout() -> Exception:
    return httpx.ReadTimeout("timed out")


def _write_timeout() -> Exception:
    return httpx.WriteTimeout("timed out")


class _Connection(asyncio.Protocol):
    """One connection to a server: what it has received so far, and whether the server has stopped sending."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        """The server will send nothing more (it closed its side, or the connection is gone)."""
        self.error: BaseException | None = None
        """Why the connection was lost, when it broke (a reset) rather than closed."""
        self.busy = True
        """Serving a request (not idle in the pool, nor closed)."""
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._reading_paused = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's, under uvicorn, is not an asyncio.Transport subclass, though it behaves as one).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_PAUSE and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None and self.error is None:
            self.error = exc
        self.transport = None
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._wake()
        self._resume()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._resume()

    # for the transport

    @property
    def reusable(self) -> bool:
        """Idle and still open: the server has not closed it and sent nothing unasked."""
        return not self.eof and not self.buffer and self.transport is not None and not self.transport.is_closing()

    async def more(self, timeout: float | None) -> None:
        """Wait for more bytes (or the end of the connection); :class:`httpx.ReadTimeout` after ``timeout`` s."""
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        timer = None if timeout is None else waiter.get_loop().call_later(timeout, _expire, waiter, _read_timeout)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise httpx.WriteError("the server closed the connection")
        transport.write(data)

    async def drain(self, timeout: float | None) -> None:
        """Wait while the socket's send buffer is full; :class:`httpx.WriteTimeout` after ``timeout`` s."""
        while self._writing_paused and not self.eof:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drain = waiter
            timer = None if timeout is None else waiter.get_loop().call_later(timeout, _expire, waiter, _write_timeout)
            try:
                await waiter
            finally:
                self._drain = None
                if timer is not None:
                    timer.cancel()

    async def closed(self) -> None:
        """Return once the connection is closed."""
        if self.transport is not None:
            self._lost = asyncio.get_running_loop().create_future()
            await self._lost

    def close(self, *, broken: bool = False) -> None:
        self.busy = False
        if self.transport is not None:
            if broken:
                self.transport.abort()
            else:
                self.transport.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _resume(self) -> None:
        waiter = self._drain
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


# --- the pool -------------------------------------------------------------------------------------------------


class _Pool:
    """Connections per origin, at most ``limits.max_connections`` open (idle, busy or being opened) in all.

    A request takes the most recently used idle connection of its origin, else a free place to open one in, else
    waits (first come, first served) for a connection of its origin or a free place.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self.max_open = limits.max_connections
        self.max_idle = limits.max_keepalive_connections
        self.expiry = limits.keepalive_expiry
        self.idle: dict[Origin, list[_Connection]] = {}
        self.idle_count = 0
        self.open = 0
        self.waiters: deque[tuple[Origin, asyncio.Future[_Connection | None]]] = deque()
        self.closed = False

    async def acquire(self, origin: Origin, timeout: float | None) -> _Connection | None:
        """An idle connection of ``origin``, or None: a place is reserved for a new connection (open it, or give
        the place back with :meth:`free_place`).

        Raises:
            httpx.PoolTimeout: nothing came free within ``timeout`` seconds.
        """
        if self.idle_count:
            conn = self._take_idle(origin)
            if conn is not None:
                return conn
        if self.max_open is None or self.open < self.max_open:
            self.open += 1
            return None
        if self.idle_count:  # full, but with idle connections to other servers: one of them makes way
            self._evict_idle()
            return None
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        entry = (origin, waiter)
        self.waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                conn = await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():  # handed over just as the wait ended: give it back
                got = waiter.result()
                if got is None:
                    self.free_place()
                else:
                    self.release(got, keep=True)
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self.waiters.remove(entry)
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout("no connection came free in time") from exc
            raise
        if conn is not None and not conn.reusable:  # the server closed it while it was handed over
            conn.close()
            return None
        return conn

    def release(self, conn: _Connection, *, keep: bool, broken: bool = False) -> None:
        """A request is done with ``conn``: keep it for another (``keep``: the exchange ended cleanly and both
        sides allow keep-alive) or close it (``broken``: at once, without a goodbye)."""
        if not conn.busy:
            return
        if not keep or self.closed or not conn.reusable:
            conn.close(broken=broken)
            self.free_place()
            return
        for entry in self.waiters:
            if entry[0] == conn.origin and not entry[1].done():
                self.waiters.remove(entry)
                entry[1].set_result(conn)
                return
        if self.waiters or (self.max_idle is not None and self.idle_count >= self.max_idle):
            conn.close()  # others wait for a place, or enough are idle
            self.free_place()
            return
        conn.busy = False
        now = time.monotonic()
        conn.idle_since = now
        stack = self.idle.setdefault(conn.origin, [])
        stack.append(conn)
        self.idle_count += 1
        while stack and not (stack[0].reusable and self._fresh(stack[0], now)):  # the oldest: closed or expired
            self._drop_idle(stack.pop(0))

    def free_place(self) -> None:
        """A connection closed (or was never opened): the first waiter opens one in its place."""
        while self.waiters:
            _, waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.open -= 1

    async def close(self) -> None:
        """Close the idle connections (and each busy one when its request ends); return once they are closed."""
        self.closed = True
        closing = [conn for stack in self.idle.values() for conn in stack]
        for stack in self.idle.values():
            while stack:
                self._drop_idle(stack.pop(), broken=True)  # no TLS goodbye to wait for
        if closing:
            await asyncio.wait([asyncio.ensure_future(conn.closed()) for conn in closing], timeout=5)

    def _take_idle(self, origin: Origin) -> _Connection | None:
        stack = self.idle.get(origin)
        if not stack:
            return None
        now = time.monotonic()
        while stack:
            conn = stack.pop()
            self.idle_count -= 1
            if conn.reusable and self._fresh(conn, now):
                conn.busy = True
                return conn
            conn.busy = True
            self.release(conn, keep=False)
        return None

    def _evict_idle(self) -> None:
        for stack in self.idle.values():
            if stack:
                conn = stack.pop(0)
                self.idle_count -= 1
                conn.close()
                return

    def _drop_idle(self, conn: _Connection, *, broken: bool = False) -> None:
        self.idle_count -= 1
        conn.busy = True
        self.release(conn, keep=False, broken=broken)

    def _fresh(self, conn: _Connection, now: float) -> bool:
        return self.expiry is None or now - conn.idle_since < self.expiry


# --- the exchange ---------------------------------------------------------------------------------------------


async def _send(conn: _Connection, request: httpx.Request, timeout: float | None) -> bool:
    """Write ``request`` (head and body, framed as httpx set it); whether it allows keep-alive."""
    raw = request.headers.raw
    parts = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    chunked = close = False
    for name, value in raw:
        parts += (name, b": ", value, b"\r\n")
        if len(name) == 17 and name.lower() == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif len(name) == 10 and name.lower() == b"connection":
            close = b"close" in value.lower()
    parts.append(b"\r\n")
    head = b"".join(parts)
    if head.count(b"\n") != len(raw) + 2 or head.count(b"\r") != len(raw) + 2:
        raise httpx.LocalProtocolError("a request header contains a line break")
    stream = request.stream
    assert isinstance(stream, httpx.AsyncByteStream)
    pending = [head]
    size = len(head)
    async for chunk in stream:  # the first chunk goes out with the head (a refused body sends nothing at all)
        if not chunk:
            continue
        if chunked:
            pending += (b"%x\r\n" % len(chunk), chunk, b"\r\n")
        else:
            pending.append(chunk)
        size += len(chunk)
        if size >= _WRITE_BATCH:
            conn.write(b"".join(pending))
            pending.clear()
            size = 0
            await conn.drain(timeout)
    if chunked:
        pending.append(b"0\r\n\r\n")
    if pending:
        conn.write(pending[0] if len(pending) == 1 else b"".join(pending))
        await conn.drain(timeout)
    return not close


async def _receive(pool: _Pool, conn: _Connection, method: str, keep: bool, timeout: float | None) -> httpx.Response:
    """Read the response head (after any 1xx) and return the response, its body streamed from ``conn``."""
    while True:
        head = await _read_head(conn, timeout)
        status, version, reason, headers, length, te, connection = _parse_head(head)
        if status >= 200:
            break
        if status == 101:
            raise httpx.RemoteProtocolError("the server switched protocols unasked")
    keep = keep and version == b"HTTP/1.1" and not (connection and b"close" in connection.lower())
    extensions = {"http_version": version, "reason_phrase": reason}
    if method == "HEAD" or status in (204, 304):
        length, te = 0, None
    if te is not None:
        if te.lower().rstrip(b" \t").endswith(b"chunked"):
            body: httpx.AsyncByteStream = _Body(pool, conn, None, True, keep, timeout)
        else:  # another coding last: the body ends with the connection
            body = _Body(pool, conn, None, False, False, timeout)
    elif length is None:
        body = _Body(pool, conn, None, False, False, timeout)
    elif len(conn.buffer) >= length:  # all there already: the connection is free before httpx reads the body
        buffer = conn.buffer
        data = bytes(buffer[:length])
        del buffer[:length]
        response = httpx.Response(status, headers=headers, stream=httpx.ByteStream(data), extensions=extensions)
        pool.release(conn, keep=keep)  # the last step: nothing after it may fail and release it again
        return response
    else:
        body = _Body(pool, conn, length, False, keep, timeout)
    return httpx.Response(status, headers=headers, stream=body, extensions=extensions)


async def _read_head(conn: _Connection, timeout: float | None) -> bytes:
    buffer = conn.buffer
    while True:
        end = _HEAD_END.search(buffer)
        if end is not None:
            head = bytes(buffer[: end.start()])
            del buffer[: end.end()]
            return head
        if len(buffer) > _MAX_HEAD:
            raise httpx.RemoteProtocolError("the response head is too long")
        if conn.eof:
            if conn.error is not None:
                raise httpx.ReadError(str(conn.error) or type(conn.error).__name__)
            if buffer:
                raise httpx.RemoteProtocolError("Server disconnected before the end of the response head.")
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        await conn.more(timeout)


def _parse_head(
    head: bytes,
) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]], int | None, bytes | None, bytes | None]:
    """Status, version, reason, headers, Content-Length, Transfer-Encoding and Connection of a response head."""
    lines = head.split(b"\n")
    version, _, rest = lines[0].rstrip(b"\r").partition(b" ")
    code, _, reason = rest.partition(b" ")
    if len(version) != 8 or not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise httpx.RemoteProtocolError("malformed status line in the response")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[-1:] == b"\r":
            line = line[:-1]
        if line[:1] in (b" ", b"\t"):  # an obsolete folded continuation of the header before
            if not headers:
                raise httpx.RemoteProtocolError("malformed header line in the response")
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name[-1:] in (b" ", b"\t"):
            raise httpx.RemoteProtocolError("malformed header line in the response")
        headers.append((name, value.strip(b" \t")))
    length: int | None = None
    te = connection = None
    for name, value in headers:
        size = len(name)
        if size == 14 and name.lower() == b"content-length":
            values = {v.strip(b" \t") for v in value.split(b",")}
            if length is not None:
                values.add(b"%d" % length)
            if len(values) != 1 or not (number := values.pop()).isdigit():
                raise httpx.RemoteProtocolError("invalid Content-Length in the response")
            length = int(number)
        elif size == 17 and name.lower() == b"transfer-encoding":
            te = value if te is None else te + b", " + value
        elif size == 10 and name.lower() == b"connection":
            connection = value if connection is None else connection + b", " + value
    return int(code), version, reason, headers, length, te, connection


def _cut(conn: _Connection, what: str) -> httpx.TransportError:
    if conn.error is not None:
        return httpx.ReadError(str(conn.error) or type(conn.error).__name__)
    return httpx.RemoteProtocolError(f"peer closed connection without sending complete message body: {what}")


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection as httpx asks for it; closing it gives the connection back (or
    closes it, when the body was not read to its end)."""

    def __init__(
        self, pool: _Pool, conn: _Connection, length: int | None, chunked: bool, keep: bool, timeout: float | None
    ) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._length = length
        self._chunked = chunked
        self._keep = keep
        self._timeout = timeout
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None or self._done:
            return
        buffer = conn.buffer
        timeout = self._timeout
        if self._length is not None:
            async for piece in self._exactly(conn, self._length, "incomplete body"):
                yield piece
        elif self._chunked:
            while True:
                line = await _line(conn, timeout)
                size = line.split(b";", 1)[0].strip(b" \t")
                if not _CHUNK_SIZE.fullmatch(size):
                    raise httpx.RemoteProtocolError("malformed chunk size in the response")
                if size.strip(b"0") == b"":  # the last chunk; trailers until an empty line
                    while await _line(conn, timeout):
                        pass
                    break
                async for piece in self._exactly(conn, int(size, 16), "incomplete chunked read"):
                    yield piece
                if await _line(conn, timeout):
                    raise httpx.RemoteProtocolError("malformed chunk end in the response")
        else:  # until the server closes the connection
            while True:
                if buffer:
                    piece = bytes(buffer)
                    buffer.clear()
                    yield piece
                elif conn.eof:
                    if conn.error is not None:
                        raise httpx.ReadError(str(conn.error) or type(conn.error).__name__)
                    break
                else:
                    await conn.more(timeout)
        self._done = True

    async def _exactly(self, conn: _Connection, size: int, what: str) -> AsyncIterator[bytes]:
        buffer = conn.buffer
        while size:
            if not buffer:
                if conn.eof:
                    raise _cut(conn, what)
                await conn.more(self._timeout)
                continue
            if len(buffer) <= size:
                piece = bytes(buffer)
                buffer.clear()
            else:
                piece = bytes(buffer[:size])
                del buffer[:size]
            size -= len(piece)
            yield piece

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn, keep=self._done and self._keep, broken=not self._done)


async def _line(conn: _Connection, timeout: float | None) -> bytes:
    """One line of a chunked body, without its line end."""
    buffer = conn.buffer
    while (end := buffer.find(b"\n")) < 0:
        if len(buffer) > _MAX_LINE:
            raise httpx.RemoteProtocolError("a line of the chunked response is too long")
        if conn.eof:
            raise _cut(conn, "incomplete chunked read")
        await conn.more(timeout)
    line = bytes(buffer[:end])
    del buffer[: end + 1]
    return line[:-1] if line[-1:] == b"\r" else line
