"""The general building blocks on the canvas: their forms render and validate, in English and in Dutch."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from engine.flow import validate_flow
from nodes.connectors.httpapi import CONNECTOR
from nodes.maps.generic import FieldMapping
from tests.web.conftest import Site
from tests.words import connection_form_words, node_form_words, untranslated

GENERIC_NODES = ("http.get", "http.send", "webhook.payload", "email.send")
SAME_IN_DUTCH = {"URL", "Scope", "Client secret"}  # the UI catalogue keeps "Client secret" as is


@pytest.mark.parametrize("node_type", GENERIC_NODES)
def test_node_form_words_read_in_dutch(node_type: str) -> None:
    assert untranslated(node_form_words(node_type), SAME_IN_DUTCH) == []


def test_connection_form_and_map_loop_read_in_dutch() -> None:
    texts = connection_form_words(CONNECTOR)
    loop = FieldMapping.model_fields["for_each"]
    texts += [loop.title or "", loop.description or ""]
    assert untranslated(texts, SAME_IN_DUTCH) == []


def _form(site: Site, node_type: str, config: dict[str, Any], problems: list[dict[str, Any]] | None = None) -> str:
    answer = site.client.post(
        "/ui/node-form",
        data={
            "type": node_type,
            "node_id": "n1",
            "flow_id": "x",
            "config": json.dumps(config),
            "problems": json.dumps(problems or []),
        },
        headers=site.htmx(),
    )
    assert answer.status_code == 200, answer.text[:300]
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', answer.text))
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', answer.text))
    assert ids <= labelled, ids - labelled
    return answer.text


def test_http_forms_render_their_fields_and_problems_in_both_languages(site: Site) -> None:
    config = {"connection": "api", "path": "orders", "records_path": "data", "paging": "cursor"}
    text = _form(site, "http.get", config, [{"node": "n1", "field": "records_path", "message": "broken path"}])
    assert "Records at" in text and 'value="data"' in text and "broken path" in text
    assert "Next page at" in text
    send = _form(site, "http.send", {"connection": "api", "path": "customers/{{ id }}"})
    assert "Id in the answer" in send and "customers/{{ id }}" in send
    site.client.post("/lang", data={"lang": "nl", "next": "/", "csrf_token": site.csrf})
    dutch = _form(site, "http.get", config)
    assert "Records staan in" in dutch and "Volgende pagina staat in" in dutch
    assert "Id in het antwoord" in _form(site, "http.send", {"connection": "api", "path": "c"})


def _flow(**configs: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "koppel.flow/1",
        "name": "api to api",
        "nodes": [
            {"id": "read", "type": "http.get", "config": {"connection": "in", "path": "orders", **configs["read"]}},
            {
                "id": "map",
                "type": "map",
                "config": {
                    "fields": [
                        {"target": "lines[*].sku", "for_each": "line_items", "source": {"kind": "path", "path": "sku"}}
                    ]
                },
            },
            {"id": "send", "type": "http.send", "config": {"connection": "out", "path": "orders", **configs["send"]}},
        ],
        "edges": [{"from": "read", "to": "map"}, {"from": "map", "to": "send"}],
        "settings": {},
    }


def test_an_http_flow_validates_and_bad_settings_are_named() -> None:
    connections = {"in": "httpapi", "out": "httpapi", "shop": "woocommerce"}
    good = _flow(read={"paging": "link"}, send={"body": {"n": "{{ number }}"}})
    assert [p.as_dict() for p in validate_flow(good, connections)] == []
    bad = _flow(read={"paging": "scroll", "connection": "shop"}, send={"path": "orders/{{ id"})
    problems = {
        (p.as_dict()["node"], p.as_dict()["field"]): p.as_dict()["message"] for p in validate_flow(bad, connections)
    }
    assert ("read", "paging") in problems
    assert "not closed" in problems[("send", "path")]
    wrong_app = _flow(read={"connection": "shop"}, send={})
    assert [p.as_dict() for p in validate_flow(wrong_app, connections)] == [
        {"node": "read", "field": "connection", "message": 'connection "shop" is a woocommerce connection, not httpapi'}
    ]


def test_email_and_webhook_forms_render_in_both_languages(site: Site) -> None:
    config = {"to": "{{ billing.email }}", "subject": "Order {{ number }}", "body": "Hello"}
    text = _form(site, "email.send", config, [{"node": "n1", "field": "subject", "message": "a bad subject"}])
    assert "Subject" in text and "Order {{ number }}" in text and "a bad subject" in text
    assert "Records at" in _form(site, "webhook.payload", {"records_path": "items"})
    site.client.post("/lang", data={"lang": "nl", "next": "/", "csrf_token": site.csrf})
    assert "Onderwerp" in _form(site, "email.send", config)
    assert "Records staan in" in _form(site, "webhook.payload", {})


def test_the_flow_page_shows_the_incoming_webhook_address_and_secret_only_for_webhook_flows(site: Site) -> None:
    import asyncio

    from engine import store
    from engine.db import Database
    from engine.models import Flow
    from engine.webhooks import flow_secret
    from tests.web.test_pages import _create_from_template

    async def make() -> tuple[str, str]:
        db = Database(site.database_url)
        try:
            document = {
                "format": "koppel.flow/1",
                "name": "hook",
                "nodes": [
                    {"id": "in", "type": "webhook.payload", "config": {}},
                    {"id": "out", "type": "email.send", "config": {"to": "a@b.test", "subject": "s", "body": "b"}},
                ],
                "edges": [{"from": "in", "to": "out"}],
                "settings": {},
            }
            flow = await store.create_flow(db, document)
            async with db.session() as session:
                row = await session.get(Flow, flow.id)
                assert row is not None
                return flow.id, flow_secret(row)
        finally:
            await db.dispose()

    flow_id, secret = asyncio.run(make())
    page = site.client.get(f"/flows/{flow_id}/automation").text
    assert f"/hooks/generic/{flow_id}</code>" in page and secret in page and "Incoming webhook" in page
    api = site.client.get(f"/api/flows/{flow_id}/automation")
    assert api.status_code == 200 and secret not in api.text  # the JSON API never carries the secret
    other = _create_from_template(site)
    assert "Incoming webhook" not in site.client.get(f"/flows/{other}/automation").text


def test_http_api_connection_form_saves_and_tests_plainly(site: Site) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the standard library calls it by this name
            ok = self.headers.get("Authorization") == "Bearer tok-secret-1"
            body = b'{"motd": "REMOTE-BODY-TEXT"}'
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        form = site.client.get("/connections/new?app=httpapi")
        assert form.status_code == 200 and "Base URL" in form.text and "API key name" in form.text
        fields = {
            "app": "httpapi",
            "name": "api",
            "url": f"http://127.0.0.1:{server.server_address[1]}",
            "auth": "bearer",
            "token": "tok-secret-1",
            "test_path": "status",
        }
        saved = site.client.post("/connections/save", data=fields, headers=site.htmx())
        target = saved.headers["HX-Redirect"]
        page = site.client.get(target)
        assert "tok-secret-1" not in page.text
        connection_id = target.split("/")[2].split("?")[0]
        answer = site.client.post(f"/connections/{connection_id}/test", headers=site.htmx())
        assert "answered (HTTP 200)" in answer.text
        assert "REMOTE-BODY-TEXT" not in answer.text and "tok-secret-1" not in answer.text
        incomplete = site.client.post(
            "/connections/save", data={**fields, "name": "api2", "auth": "basic", "token": ""}, headers=site.htmx()
        )
        assert "basic authentication needs" in incomplete.text
    finally:
        server.shutdown()
