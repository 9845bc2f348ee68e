"""The keep-alive pool's quicker readability check still notices a connection the server closed while it was idle:
the next POST goes out on a new connection instead of failing on the closed one (a POST is not retried)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from nodes.connectors.http import ApiClient


@pytest.fixture(name="server")
async def fx_server() -> AsyncIterator[tuple[str, list[int]]]:
    """Answers one request per connection with keep-alive promised, then closes that connection."""
    connections: list[int] = []

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

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", connections


async def test_a_post_after_the_server_closed_the_idle_connection_goes_out_on_a_new_one(
    server: tuple[str, list[int]],
) -> None:
    base, connections = server
    client = ApiClient(base)
    try:
        for _ in range(3):
            assert await client.request_json("POST", "/things", json={"name": "x"}) == {"ok": True}
            await asyncio.sleep(0.05)  # the server's close reaches the client's socket (no race is waited for)
    finally:
        await client.aclose()
    assert len(connections) == 3
