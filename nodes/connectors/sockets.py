"""A cheaper "has the server closed this idle connection?" for the keep-alive pool of a connector's client.

httpcore's pool asks every connection it holds whether it has expired each time a request starts or ends; for an
idle connection that means asking the stream whether its socket is readable. The anyio stream answers by building
a dictionary of all its socket attributes (peer name included, a system call) to take the raw socket from it —
with 16 connections and 7,000 invoice posts that was a fifth of the client's CPU (py-spy, bench/engine.py). The
streams here keep their raw socket and poll it directly: the same answer, without the detour.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ("quicken",)


def quicken(client: httpx.AsyncClient) -> None:
    """Give ``client``'s own connection pool (not a proxy's, not a test transport) the quicker streams."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if type(pool) is httpcore.AsyncConnectionPool and isinstance(backend, httpcore.AsyncNetworkBackend):
        pool._network_backend = _Backend(backend)


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once (data, or the b"" of a closed connection); a socket gone counts."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
