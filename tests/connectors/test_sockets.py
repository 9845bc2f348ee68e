"""The keep-alive pool's quicker readability check still notices a connection the server closed while it was idle:
the next POST goes out on a new connection instead of failing on the closed one (a POST is not retried)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from nodes.connectors.http import ApiClient


@pytest.fixture(name="server")
async def fx_server() -> AsyncIterator[tuple[str, list[int], asyncio.Event]]:
    """Answers one request per connection with keep-alive promised, then closes that connection (and says so)."""
    connections: list[int] = []
    closed = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        await reader.readexactly(length)
        body = b'{"ok": true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()  # keep-alive was promised: the client's pool keeps the connection as idle
        await writer.wait_closed()
        closed.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", connections, closed


async def test_a_post_after_the_server_closed_the_idle_connection_goes_out_on_a_new_one(
    server: tuple[str, list[int], asyncio.Event],
) -> None:
    base, connections, closed = server
    client = ApiClient(base)
    try:
        for _ in range(3):
            closed.clear()
            assert await client.request_json("POST", "/things", json={"name": "x"}) == {"ok": True}
            await asyncio.wait_for(closed.wait(), 10)  # the server has closed the connection the client keeps
    finally:
        await client.aclose()
    assert len(connections) == 3
