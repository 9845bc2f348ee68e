"""The connector registry, each connector's conformance to the protocol, and connection-object validation."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from nodes.connectors import ConnectionRef, Connector, make_client, secret_fields, validate_spec
from nodes.connectors.asperion import AsperionClient, AsperionConnection
from nodes.connectors.base import OAuthHooks, WebhookHooks
from nodes.connectors.registry import connectors, get_connector
from nodes.connectors.woocommerce import WooCommerceClient, WooCommerceConnection

WOO = {
    "app": "woocommerce",
    "url": "http://127.0.0.1:8100/woocommerce",
    "consumer_key": "ck_1",
    "consumer_secret": "cs_1",
}
ASP = {
    "app": "asperion",
    "url": "http://127.0.0.1:8100/asperion",
    "identity_url": "http://127.0.0.1:8100/asperion",
    "client_id": "koppel-demo",
    "client_secret": "koppel-demo-secret",
    "refresh_token": "rt",
    "tenant_id": 1001,
}
SPECS = {"woocommerce": WOO, "asperion": ASP}


def test_registry_discovers_every_connector_package() -> None:
    found = connectors()
    assert set(found) >= {"woocommerce", "asperion"}
    assert get_connector("asperion") is found["asperion"]
    with pytest.raises(ValueError, match='unknown application "exact"'):
        get_connector("exact")


@pytest.mark.parametrize("app", ["woocommerce", "asperion"])
async def test_connector_conforms_to_the_protocol(app: str) -> None:
    connector = get_connector(app)
    assert isinstance(connector, Connector)
    assert connector.app == app and connector.label and connector.description
    assert issubclass(connector.credentials, BaseModel)
    assert all(f.label for f in connector.fields)
    assert connector.option_lists
    assert connector.oauth is None or isinstance(connector.oauth, OAuthHooks)
    assert connector.webhooks is None or isinstance(connector.webhooks, WebhookHooks)
    credentials, _ = connector.parse(SPECS[app])
    auth = connector.auth(credentials)
    assert isinstance(auth, httpx.Auth)
    client = connector.client(SPECS[app])
    try:
        assert type(client.http.auth) is type(auth)  # the client signs its requests with the connector's auth
        with pytest.raises(KeyError):
            await connector.options(client, "no-such-list")
    finally:
        await client.aclose()


def test_secret_fields_are_marked_and_hidden_from_repr() -> None:
    assert secret_fields("woocommerce") == ("consumer_secret",)
    assert set(secret_fields("asperion")) == {"client_secret", "refresh_token"}
    credentials, _ = get_connector("woocommerce").parse(WOO)
    assert "cs_1" not in repr(credentials)


def test_valid_specs_make_clients() -> None:
    assert validate_spec("woocommerce", WOO) == []
    assert validate_spec("asperion", ASP) == []
    assert validate_spec("asperion", {**ASP, "_id": "conn-1", "name": "asperion"}) == []  # stored connections
    woo = make_client("woocommerce", WOO)
    asp = make_client("asperion", {**ASP, "concurrency": 4})
    assert isinstance(woo, WooCommerceClient) and woo.base_url.endswith("/woocommerce/wp-json/wc/v3")
    assert isinstance(asp, AsperionClient) and asp.tenant_id == "1001" and asp.concurrency == 4
    assert asp.token_url == "http://127.0.0.1:8100/asperion/connect/token"


def test_refresh_token_is_optional_everywhere() -> None:
    spec = {k: v for k, v in ASP.items() if k != "refresh_token"}
    assert validate_spec("asperion", spec) == []
    assert validate_spec("asperion", {**spec, "refresh_token": ""}) == []
    client = make_client("asperion", spec)
    assert isinstance(client, AsperionClient) and not client.connected


@pytest.mark.parametrize(
    ("app", "spec", "fragment"),
    [
        ("woocommerce", {**WOO, "consumer_secret": ""}, "Consumer secret (consumer_secret) is required"),
        ("woocommerce", {**WOO, "url": "http://shop.example.nl"}, "must use https://"),
        ("woocommerce", {**WOO, "url": "ftp://shop.example.nl"}, "must start with https://"),
        ("woocommerce", {**WOO, "colour": "red"}, 'unknown field "colour"'),
        ("woocommerce", {**WOO, "concurrency": 0}, "concurrency must be between 1 and 64"),
        ("asperion", {**ASP, "tenant_id": "abc"}, "whole number"),
        ("asperion", {**ASP, "tenant_id": 1.5}, "whole number"),
        ("asperion", {**ASP, "app": "woocommerce"}, 'expected "asperion"'),
        ("exact", {}, "unknown application"),
    ],
)
def test_invalid_specs_are_explained(app: str, spec: dict[str, object], fragment: str) -> None:
    errors = validate_spec(app, spec)
    assert any(fragment in e for e in errors), errors


def test_make_client_refuses_invalid_spec_without_leaking_secrets() -> None:
    with pytest.raises(ValueError) as info:
        make_client("woocommerce", {**WOO, "url": "ftp://x"})
    assert "cs_1" not in str(info.value)


def test_connection_references_are_plain_strings_with_their_application() -> None:
    class Config(BaseModel):
        shop: WooCommerceConnection = WooCommerceConnection("woocommerce")
        books: AsperionConnection

    config = Config.model_validate({"books": "asperion-2"})
    assert isinstance(config.books, ConnectionRef) and config.books == "asperion-2"
    assert config.model_dump() == {"shop": "woocommerce", "books": "asperion-2"}
    schema = Config.model_json_schema()["properties"]
    assert schema["books"]["ui"] == {"widget": "connection", "app": "asperion"}
    assert schema["shop"]["ui"] == {"widget": "connection", "app": "woocommerce"}


def test_a_new_connector_package_is_discovered_without_touching_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nodes.connectors
    import nodes.connectors.registry as registry

    package = tmp_path / "zz_test_app"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from nodes.connectors.woocommerce.connector import WooCommerceConnector\n"
        "class ZzConnector(WooCommerceConnector):\n"
        "    app = 'zz_test_app'\n"
        "    label = 'Zz'\n"
        "CONNECTOR = ZzConnector()\n"
    )
    monkeypatch.setattr(nodes.connectors, "__path__", [*nodes.connectors.__path__, str(tmp_path)])
    registry.connectors.cache_clear()
    try:
        assert "zz_test_app" in registry.connectors()
        assert validate_spec("zz_test_app", {**WOO, "app": "zz_test_app"}) == []
    finally:
        monkeypatch.undo()
        registry.connectors.cache_clear()
    assert "zz_test_app" not in registry.connectors()


def test_a_connector_not_implementing_the_protocol_is_refused() -> None:
    from nodes.connectors.registry import _accept

    with pytest.raises(TypeError, match="protocol"):
        _accept({}, object(), "somewhere")
    found = dict(connectors())
    with pytest.raises(ValueError, match="twice"):
        _accept(found, get_connector("asperion"), "a second package")
