"""HTTP request source and target: records move between two real local servers (loopback), with every paging style
and every kind of authentication of the generic HTTP API connection."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from engine.db import Database
from engine.service import create_run, execute_run
from nodes.base import Record, RecordFailed
from nodes.connectors.http import ApiClient, ApiError
from nodes.connectors.registry import get_connector
from nodes.sources.http_request import HttpGetConfig, HttpGetSource
from nodes.targets.http_request import HttpSendConfig, HttpSendTarget
from tests.connectors.loopback import Answer, Loopback, Request

CUSTOMERS = [{"id": i, "email": f"c{i}@example.test", "total": f"{i}2.50"} for i in range(1, 8)]
SIZE = 3


@dataclass
class Ctx:
    clients: dict[str, ApiClient]
    flow_key: str = "flow"
    run_id: str = "run-1"
    dry_run: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def client(self, connection: str) -> Any:
        return self.clients[str(connection)]

    def cursor(self, node_id: str) -> Any:
        raise AssertionError("no cursor")

    def now(self) -> datetime:
        return datetime(2025, 3, 10, tzinfo=UTC)


AUTHS: dict[str, tuple[dict[str, Any], Callable[[Request], bool]]] = {
    "none": ({}, lambda r: "authorization" not in r.headers and "api_key" not in r.query),
    "basic": (
        {"username": "ann", "password": "pw"},
        lambda r: r.headers.get("authorization") == "Basic " + base64.b64encode(b"ann:pw").decode(),
    ),
    "bearer": ({"token": "tok-1"}, lambda r: r.headers.get("authorization") == "Bearer tok-1"),
    "api_key_header": ({"token": "k-1", "key_name": "X-API-Key"}, lambda r: r.headers.get("x-api-key") == "k-1"),
    "api_key_query": ({"token": "k-2", "key_name": "api_key"}, lambda r: r.query.get("api_key") == "k-2"),
    "oauth2": (
        {"token_url": "", "client_id": "cid", "client_secret": "cs"},
        lambda r: r.headers.get("authorization") == "Bearer tok-oauth",
    ),
}


def source_app(auth: str) -> Callable[[Loopback, Request], Answer]:
    allowed = AUTHS[auth][1]

    def handle(server: Loopback, request: Request) -> Answer:
        if request.path == "/token":
            form = dict(pair.split("=", 1) for pair in request.body.decode().split("&"))
            good = form.get("client_id") == "cid" and form.get("client_secret") == "cs"
            return Answer(200, {"access_token": "tok-oauth", "expires_in": 600}) if good else Answer(401, {})
        if not allowed(request):
            return Answer(401, {"error": "who are you"})
        q = request.query
        if request.path == "/paged":
            page, size = int(q["page"]), int(q["per_page"])
            return Answer(body={"data": CUSTOMERS[(page - 1) * size : page * size]})
        if request.path == "/offset":
            start, size = int(q["offset"]), int(q["limit"])
            return Answer(body={"results": CUSTOMERS[start : start + size]})
        start = int(q.get("after", q.get("cursor", "0")))
        chunk, more = CUSTOMERS[start : start + SIZE], start + SIZE < len(CUSTOMERS)
        if request.path == "/linked":
            link = {"Link": f'<{server.url}/linked?after={start + SIZE}>; rel="next"'} if more else {}
            return Answer(body=chunk, headers=link)
        if request.path == "/cursor":
            return Answer(body={"items": chunk, "meta": {"next_cursor": str(start + SIZE) if more else None}})
        if request.path == "/nexturl":
            return Answer(body={"items": chunk, "links": {"next": f"/nexturl?after={start + SIZE}" if more else ""}})
        return Answer(404, {})

    return handle


def target_app(server: Loopback, request: Request) -> Answer:
    if request.headers.get("authorization") != "Bearer tgt":
        return Answer(401, {})
    if request.method == "POST" and request.path == "/customers":
        body = request.json()
        if not body.get("email"):
            return Answer(422, {"message": "email is required"})
        created = sum(1 for r in server.requests if r.method == "POST")
        return Answer(201, {"data": {"id": f"T{created}"}})
    return Answer(404, {})


STYLES: dict[str, dict[str, Any]] = {
    "page": {"path": "paged", "records_path": "data", "page_size": SIZE},
    "offset": {"path": "offset", "records_path": "results[*]", "page_size": SIZE, "paging": "offset"},
    "link": {"path": "linked"},
    "cursor": {"path": "cursor", "records_path": "items", "next_path": "meta.next_cursor"},
    "next_url": {"path": "nexturl", "records_path": "items", "next_path": "links.next"},
}


async def move(style: str, auth: str) -> tuple[list[Record], list[str], Loopback]:
    async with Loopback(source_app(auth)) as source_server, Loopback(target_app) as target_server:
        creds = dict(AUTHS[auth][0])
        if auth == "oauth2":
            creds["token_url"] = f"{source_server.url}/token"
        connector = get_connector("httpapi")
        clients = {
            "in": connector.client({"app": "httpapi", "url": source_server.url, "auth": auth, **creds}),
            "out": connector.client({"app": "httpapi", "url": target_server.url, "auth": "bearer", "token": "tgt"}),
        }
        ctx = Ctx(clients)
        try:
            config = HttpGetConfig.model_validate({"connection": "in", "paging": style, **STYLES[style]})
            source = HttpGetSource("read", config, ctx)
            target = HttpSendTarget(
                "send",
                HttpSendConfig.model_validate(
                    {
                        "connection": "out",
                        "path": "customers",
                        "body": {"email": "{{ email }}", "amount": "{{ number(total) }}", "ref": "src-{{ id }}"},
                        "id_path": "data.id",
                    }
                ),
                ctx,
            )
            records = [record async for page in source.read() for record in page]
            ids = [(await target.send(r, await target.build(r))).target_id for r in records]
        finally:
            for client in clients.values():
                await client.aclose()
        bodies = [r.json() for r in target_server.requests]
        assert bodies == [
            {"email": c["email"], "amount": float(Decimal(str(c["total"]))), "ref": f"src-{c['id']}"} for c in CUSTOMERS
        ]
        return records, ids, source_server


@pytest.mark.parametrize("style", list(STYLES))
async def test_every_paging_style_moves_every_record_once(style: str) -> None:
    records, ids, server = await move(style, "bearer")
    assert [r.key for r in records] == [str(c["id"]) for c in CUSTOMERS]
    assert ids == [f"T{i}" for i in range(1, 8)]
    reads = [r for r in server.requests if r.path != "/token"]
    assert len(reads) == 3  # 3 + 3 + 1 records


@pytest.mark.parametrize("auth", list(AUTHS))
async def test_every_kind_of_authentication_moves_the_records(auth: str) -> None:
    records, ids, server = await move("page", auth)
    assert len(records) == len(CUSTOMERS) and ids[-1] == "T7"
    assert sum(1 for r in server.requests if r.path == "/token") == (1 if auth == "oauth2" else 0)


async def test_wrong_credentials_are_an_auth_error_and_refusals_fail_the_record() -> None:
    async with Loopback(source_app("bearer")) as server, Loopback(target_app) as target_server:
        connector = get_connector("httpapi")
        bad = connector.client({"app": "httpapi", "url": server.url, "auth": "bearer", "token": "nope"})
        out = connector.client({"app": "httpapi", "url": target_server.url, "auth": "bearer", "token": "tgt"})
        ctx = Ctx({"in": bad, "out": out})
        try:
            source = HttpGetSource("read", HttpGetConfig.model_validate({"connection": "in", **STYLES["link"]}), ctx)
            with pytest.raises(ApiError, match="401") as caught:
                [page async for page in source.read()]
            assert "nope" not in str(caught.value)
            target = HttpSendTarget(
                "send", HttpSendConfig.model_validate({"connection": "out", "path": "customers"}), ctx
            )
            record = Record(key="1", source_id="x:1", data={"name": "no email"})
            with pytest.raises(RecordFailed, match="email is required"):
                await target.send(record, await target.build(record))
        finally:
            await bad.aclose()
            await out.aclose()


async def test_the_url_and_a_missing_value_in_a_template() -> None:
    target = HttpSendTarget(
        "send",
        HttpSendConfig.model_validate({"connection": "out", "method": "PUT", "path": "customers/{{ id }}"}),
        Ctx({}),
    )
    record = Record(key="9", source_id="x:9", data={"id": 9, "email": "a@b.test"})
    assert await target.build(record) == {"method": "PUT", "path": "customers/9", "body": record.data}
    broken = HttpSendTarget(
        "send",
        HttpSendConfig.model_validate({"connection": "out", "path": "c", "body": {"x": "{{ number(email) }}"}}),
        Ctx({}),
    )
    with pytest.raises(RecordFailed, match="number"):
        await broken.build(record)


def test_bad_templates_and_paths_are_refused_in_the_form() -> None:
    with pytest.raises(ValidationError, match="not closed"):
        HttpSendConfig.model_validate({"connection": "out", "path": "customers/{{ id"})
    with pytest.raises(ValidationError, match="syntax"):
        HttpSendConfig.model_validate({"connection": "out", "path": "c", "body": {"a": "{{ a. }}"}})
    with pytest.raises(ValidationError, match="position"):
        HttpGetConfig.model_validate({"connection": "in", "records_path": "data["})
    with pytest.raises(ValidationError, match="paging"):
        HttpGetConfig.model_validate({"connection": "in", "paging": "scroll"})


async def test_a_flow_moves_line_items_between_two_servers_through_the_engine(db: Database) -> None:
    """The whole path: engine run of http.get → map (one line per line item, number()) → http.send, run twice."""
    orders = [
        {"id": 10 + n, "line_items": [{"sku": f"S{n}-{i}", "price": f"{i}.25"} for i in range(1, n + 2)]}
        for n in range(4)
    ]

    def shop(server: Loopback, request: Request) -> Answer:
        page = int(request.query.get("page", "1"))
        return Answer(body={"data": orders[(page - 1) * 2 : page * 2]})

    async with Loopback(shop) as source_server, Loopback(target_app) as target_server:
        document = {
            "format": "koppel.flow/1",
            "name": "orders to api",
            "nodes": [
                {"id": "read", "type": "http.get", "config": {"connection": "shop", "path": "orders",
                                                               "records_path": "data", "paging": "page",
                                                               "page_size": 2}},
                {"id": "map", "type": "map", "config": {"fields": [
                    {"target": "email", "source": {"kind": "constant", "value": "x@example.test"}},
                    {"target": "order", "source": {"kind": "path", "path": "id"}},
                    {"target": "lines[*].sku", "for_each": "line_items", "source": {"kind": "path", "path": "sku"}},
                    {"target": "lines[*].price", "for_each": "line_items",
                     "source": {"kind": "expression", "expression": "number(price)"}},
                ]}},
                {"id": "send", "type": "http.send", "config": {"connection": "api", "path": "customers",
                                                               "id_path": "data.id"}},
            ],
            "edges": [{"from": "read", "to": "map"}, {"from": "map", "to": "send"}],
            "settings": {},
        }  # fmt: skip
        specs = {
            "shop": {"app": "httpapi", "url": source_server.url},
            "api": {"app": "httpapi", "url": target_server.url, "auth": "bearer", "token": "tgt"},
        }
        for _ in range(2):
            run = await create_run(db, document=document, trigger="cli", connections=specs)
            finished = await execute_run(db, run.id)
            assert finished is not None and finished.status == "succeeded", finished and finished.error
    bodies = [r.json() for r in target_server.requests]
    assert bodies == [
        {
            "email": "x@example.test",
            "order": order["id"],
            "lines": [{"sku": item["sku"], "price": float(item["price"])} for item in order["line_items"]],
        }
        for order in orders
    ]  # four orders with 1–4 lines, each sent once although the flow ran twice
