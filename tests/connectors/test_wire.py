"""The connector clients' own HTTP/1.1 transport (nodes.connectors.wire) over real sockets: the sandbox for real
pages and posts, and a raw asyncio server in the test for what a server may do on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from nodes.connectors import MemoryTokenStore, make_client
from nodes.connectors.asperion import AsperionClient
from nodes.connectors.http import ApiClient, RetryPolicy, Unreachable
from nodes.connectors.wire import LeanTransport, install
from nodes.connectors.woocommerce import WooCommerceClient
from sandbox.credentials import (
    ASPERION_CLIENT_ID,
    ASPERION_CLIENT_SECRET,
    ASPERION_INITIAL_REFRESH_TOKEN,
    WOO_RW_KEY,
    WOO_RW_SECRET,
)
from tests.sandbox.server import SandboxURL, free_port, running_sandbox

ONCE = RetryPolicy(max_attempts=1)
QUICK = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01)
OK_JSON = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"ok": true}'


# --- a raw server -----------------------------------------------------------------------------------------------


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    if b"transfer-encoding: chunked" in lines:
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readexactly(2)
        return head, body
    length = next((int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:")), 0)
    return head, await reader.readexactly(length)


Script = Callable[["Raw", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Raw:
    """A server that runs ``script`` on every connection it accepts; counts connections and requests."""

    script: Script
    url: str = ""
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    received: asyncio.Event = field(default_factory=asyncio.Event)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def request(self, reader: asyncio.StreamReader) -> bytes:
        head, body = await read_request(reader)
        self.requests.append(head + body)
        self.received.set()
        return body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await self.script(self, reader, writer)
        writer.close()


@contextlib.asynccontextmanager
async def raw_server(script: Script, **tls: object) -> AsyncIterator[Raw]:
    raw = Raw(script)
    server = await asyncio.start_server(raw._serve, "127.0.0.1", 0, **tls)  # type: ignore[arg-type]
    scheme = "https" if tls else "http"
    raw.url = f"{scheme}://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        try:
            yield raw
        finally:
            for writer in raw.writers:  # the connections a script still serves
                writer.close()
            await asyncio.gather(*(w.wait_closed() for w in raw.writers), return_exceptions=True)


def keep_alive(answer: bytes) -> Script:
    """Answer every request on the connection with ``answer``."""

    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await raw.request(reader)
            writer.write(answer)
            await writer.drain()

    return script


@contextlib.asynccontextmanager
async def api(url: str, **options: object) -> AsyncIterator[ApiClient]:
    client = ApiClient(url, retry=ONCE, **options)  # type: ignore[arg-type]
    assert isinstance(client.http._transport, LeanTransport)  # what these tests are about
    try:
        yield client
    finally:
        await client.aclose()


# --- bodies and keep-alive --------------------------------------------------------------------------------------


async def test_keep_alive_answers_reuse_one_connection() -> None:
    async with raw_server(keep_alive(OK_JSON)) as raw, api(raw.url) as client:
        for _ in range(5):
            assert await client.request_json("POST", "/things", json={"name": "x"}) == {"ok": True}
    assert raw.connections == 1 and len(raw.requests) == 5
    first = raw.requests[0]
    assert first.startswith(b"POST /things HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in first and first.endswith(b'\r\nContent-Length: 12\r\n\r\n{"name":"x"}')


async def test_a_chunked_answer_is_read_whole_and_the_connection_kept() -> None:
    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await raw.request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b'{"items": [', b"1, 2, ", b"3]}"):
                writer.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\nX-Trailer: yes\r\n\r\n")
            await writer.drain()

    async with raw_server(script) as raw, api(raw.url) as client:
        assert await client.request_json("GET", "/list") == {"items": [1, 2, 3]}
        assert await client.request_json("GET", "/list") == {"items": [1, 2, 3]}
    assert raw.connections == 1


async def test_a_body_without_length_ends_with_the_connection() -> None:
    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"until": ')
        await writer.drain()
        writer.write(b'"closed"}')

    async with raw_server(script) as raw, api(raw.url) as client:
        assert await client.request_json("GET", "/a") == {"until": "closed"}
        assert await client.request_json("GET", "/b") == {"until": "closed"}
    assert raw.connections == 2


async def test_connection_close_is_honoured() -> None:
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    async with raw_server(keep_alive(answer)) as raw, api(raw.url) as client:  # the server would go on
        for _ in range(3):
            assert await client.request_json("GET", "/x") == {}
    assert raw.connections == 3


async def test_a_post_after_the_server_closed_the_idle_connection_goes_out_on_a_new_one() -> None:
    """The server promises keep-alive, then closes the connection while the client keeps it idle: the next POST
    (which is not retried) must not be written to the closed connection."""
    closed = asyncio.Event()

    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        writer.write(OK_JSON.replace(b"OK\r\n", b"OK\r\nConnection: keep-alive\r\n"))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        closed.set()

    async with raw_server(script) as raw, api(raw.url) as client:
        for _ in range(3):
            closed.clear()
            assert await client.request_json("POST", "/things", json={"name": "x"}) == {"ok": True}
            await asyncio.wait_for(closed.wait(), 10)
    assert raw.connections == 3


async def test_bodiless_answers_and_informational_ones() -> None:
    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await raw.request(reader)
            head = raw.requests[-1]
            if head.startswith(b"HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")  # the length a GET would get
            elif b"/gone" in head.split(b"\r\n")[0]:
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + OK_JSON)
            await writer.drain()

    async with raw_server(script) as raw, api(raw.url) as client:
        head = await client.http.head(f"{raw.url}/x")
        assert head.status_code == 200 and head.content == b""
        gone = await client.http.delete(f"{raw.url}/gone")
        assert gone.status_code == 204 and gone.content == b""
        answer = await client.http.get(f"{raw.url}/x")
        assert answer.status_code == 200 and answer.json() == {"ok": True} and answer.reason_phrase == "OK"
    assert raw.connections == 1


async def test_gzip_content_is_decoded() -> None:
    payload = gzip.compress(b'{"zipped": "yes"}')
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload)
    async with raw_server(keep_alive(answer)) as raw, api(raw.url) as client:
        assert await client.request_json("GET", "/z") == {"zipped": "yes"}
    assert b"\r\naccept-encoding: gzip" in raw.requests[0].lower()


async def test_a_streamed_request_body_goes_out_chunked() -> None:
    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = await raw.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    async with raw_server(script) as raw, api(raw.url) as client:
        answer = await client.http.post(f"{raw.url}/up", content=parts())
    assert answer.content == b"one,two,three"
    assert b"\r\nTransfer-Encoding: chunked\r\n" in raw.requests[0]


async def test_a_large_answer_arrives_whole() -> None:
    big = b"x" * 3_000_000
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big)
    async with raw_server(keep_alive(answer)) as raw, api(raw.url) as client:
        for _ in range(2):
            assert (await client.http.get(f"{raw.url}/big")).content == big
    assert raw.connections == 1


# --- failures ---------------------------------------------------------------------------------------------------


async def test_a_head_never_finished_is_a_read_timeout() -> None:
    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-")
        await writer.drain()
        await reader.read()  # until the client gives up and closes

    async with raw_server(script) as raw, api(raw.url, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.http.get(f"{raw.url}/slow")
        with pytest.raises(Unreachable, match="no answer in time"):
            await client.request("POST", "/slow", json={})
    assert len(raw.requests) == 2  # the POST was not repeated


async def test_a_refused_port_is_a_connect_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with api(url) as client:
        with pytest.raises(httpx.ConnectError):
            await client.http.get(f"{url}/x")
        with pytest.raises(Unreachable, match="the connection was refused"):
            await client.request("POST", "/x", json={})


async def test_an_answer_cut_mid_body_is_an_error() -> None:
    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"y" * 10)
        await writer.drain()

    async with raw_server(script) as raw, api(raw.url) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.http.get(f"{raw.url}/cut")


async def test_a_malformed_answer_is_a_protocol_error() -> None:
    for answer in (b"HTTP/1.1 OK 200\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", b"SSH-2.0-OpenSSH\r\n\r\n"):
        async with raw_server(keep_alive(answer)) as raw, api(raw.url) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.http.get(f"{raw.url}/x")


async def test_a_post_whose_answer_never_came_is_not_retried_and_a_get_is() -> None:
    """The server reads the request and drops the connection: the POST may have been processed (not retried), the
    GET is retried — as with httpx's own transport."""

    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.request(reader)

    async with raw_server(script) as raw:
        client = ApiClient(raw.url, retry=QUICK)
        try:
            with pytest.raises(Unreachable, match="broke off"):
                await client.request("POST", "/things", json={"n": 1})
            assert len(raw.requests) == 1
            with pytest.raises(Unreachable, match="gave up after 3 attempts"):
                await client.request("GET", "/things")
            assert len(raw.requests) == 4
        finally:
            await client.aclose()


# --- the pool ---------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def small_client(limits: httpx.Limits, **timeout: float) -> AsyncIterator[httpx.AsyncClient]:
    client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(5.0, **timeout))
    install(client, limits)
    assert isinstance(client._transport, LeanTransport)
    try:
        yield client
    finally:
        await client.aclose()


async def test_requests_wait_for_a_free_connection_and_time_out_when_none_comes() -> None:
    answer_now = asyncio.Event()

    async def script(raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await raw.request(reader)
            await answer_now.wait()
            writer.write(OK_JSON)
            await writer.drain()

    limits = httpx.Limits(max_connections=1)
    async with raw_server(script) as raw, small_client(limits, pool=0.2) as client:
        first = asyncio.create_task(client.get(f"{raw.url}/1"))
        await raw.received.wait()
        with pytest.raises(httpx.PoolTimeout):
            await client.get(f"{raw.url}/2")
        waiting = [asyncio.create_task(client.get(f"{raw.url}/{n}", timeout=httpx.Timeout(5.0))) for n in (3, 4)]
        answer_now.set()
        answers = await asyncio.gather(first, *waiting)
    assert [a.json() for a in answers] == [{"ok": True}] * 3
    assert raw.connections == 1 and len(raw.requests) == 3


async def test_an_idle_connection_past_its_keep_alive_expiry_is_not_reused() -> None:
    for expiry, connections in ((0.0, 3), (30.0, 1)):
        async with raw_server(keep_alive(OK_JSON)) as raw, small_client(httpx.Limits(keepalive_expiry=expiry)) as c:
            for _ in range(3):
                assert (await c.get(f"{raw.url}/x")).json() == {"ok": True}
        assert raw.connections == connections, expiry


async def test_an_injected_transport_is_left_alone() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json={"mock": True}))
    client = ApiClient("http://app.invalid", transport=mock)
    try:
        assert client.http._transport is mock
        assert await client.request_json("GET", "/x") == {"mock": True}
    finally:
        await client.aclose()


# --- TLS --------------------------------------------------------------------------------------------------------


@pytest.fixture(name="certificate", scope="module")
def fx_certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for the name ``localhost`` only: its file, and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    yield cert, key


async def test_https_with_a_trusted_certificate_and_refused_wrong_ones(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with raw_server(keep_alive(OK_JSON), ssl=context) as raw:
        port = raw.url.rsplit(":", 1)[1]
        async with api(f"https://127.0.0.1:{port}") as client:  # not signed by a known authority
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await client.http.get(f"https://localhost:{port}/x")
            with pytest.raises(Unreachable, match="TLS handshake failed"):
                await client.request("GET", "/x")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted, as httpx's verify=True trusts it
        async with api(f"https://localhost:{port}") as client:
            for _ in range(2):
                assert await client.request_json("GET", "/x") == {"ok": True}
            with pytest.raises(httpx.ConnectError, match="certificate"):  # trusted, but for another name
                await client.http.get(f"https://127.0.0.1:{port}/x")
    assert len(raw.requests) == 2


# --- the sandbox ------------------------------------------------------------------------------------------------


@pytest.fixture(name="sandbox", scope="module")
def fx_sandbox() -> Iterator[SandboxURL]:
    with running_sandbox(orders=120, customers=10, products=5, seed=7) as url:
        yield url


async def test_pages_and_posts_against_the_sandbox(sandbox: SandboxURL) -> None:
    spec = {"app": "woocommerce", "url": f"{sandbox}/woocommerce", "consumer_key": WOO_RW_KEY}
    woo = make_client("woocommerce", {**spec, "consumer_secret": WOO_RW_SECRET}, concurrency=4)
    asp = make_client(
        "asperion",
        {
            "app": "asperion",
            "url": f"{sandbox}/asperion",
            "identity_url": f"{sandbox}/asperion",
            "client_id": ASPERION_CLIENT_ID,
            "client_secret": ASPERION_CLIENT_SECRET,
            "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN,
            "tenant_id": 1001,
        },
        token_store=MemoryTokenStore(),
    )
    assert isinstance(woo, WooCommerceClient) and isinstance(asp, AsperionClient)
    assert isinstance(woo.http._transport, LeanTransport) and isinstance(asp.http._transport, LeanTransport)
    try:
        pages = await asyncio.gather(
            *(woo.request_json("GET", "orders", params={"page": n, "per_page": 10}) for n in range(1, 13))
        )
        listed = [order["id"] async for page in woo.pages("orders", {}) for order in page]
        assert sorted(order["id"] for page in pages for order in page) == sorted(listed)
        assert len(listed) == 120
        debtors = await asyncio.gather(
            *(
                asp.create_debtor({"name": f"Klant {n}", "emailAddress": f"klant{n}@example.nl", "countryCode": "NL"})
                for n in range(30)
            )
        )
        assert len({debtor["customerNumber"] for debtor in debtors}) == 30
        found = await asp.find_debtor_by_email("klant17@example.nl")
        assert found is not None and found["name"] == "Klant 17"
    finally:
        await woo.aclose()
        await asp.aclose()


def test_pages_on_uvloop(sandbox: SandboxURL) -> None:
    """``koppel serve`` runs on uvicorn, whose loop is uvloop (uvicorn[standard]): its transports are no
    asyncio.Transport subclasses, and the wizard's samples, test runs and the in-process worker all read from it."""
    import uvloop

    async def pages() -> list[int]:
        spec = {"app": "woocommerce", "url": f"{sandbox}/woocommerce", "consumer_key": WOO_RW_KEY}
        woo = make_client("woocommerce", {**spec, "consumer_secret": WOO_RW_SECRET}, concurrency=4)
        assert isinstance(woo, WooCommerceClient) and isinstance(woo.http._transport, LeanTransport)
        try:
            return [order["id"] async for page in woo.pages("orders", {}) for order in page]
        finally:
            await woo.aclose()

    assert len(set(uvloop.run(pages()))) == 120
