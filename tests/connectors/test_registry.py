"""make_client, APPS and validate_spec over connections-file objects."""

from __future__ import annotations

import pytest

from nodes.connectors import APPS, AsperionClient, WooCommerceClient, make_client, secret_fields, validate_spec

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


def test_apps_describe_secret_fields() -> None:
    assert secret_fields("woocommerce") == ("consumer_secret",)
    assert set(secret_fields("asperion")) == {"client_secret", "refresh_token"}
    assert all(f.label for app in APPS.values() for f in app.fields)


def test_valid_specs_make_clients() -> None:
    assert validate_spec("woocommerce", WOO) == []
    assert validate_spec("asperion", ASP) == []
    assert validate_spec("asperion", {**ASP, "_id": "conn-1", "name": "asperion"}) == []  # stored connections
    woo = make_client("woocommerce", WOO)
    asp = make_client("asperion", {**ASP, "concurrency": 4})
    assert isinstance(woo, WooCommerceClient) and woo.base_url.endswith("/woocommerce/wp-json/wc/v3")
    assert isinstance(asp, AsperionClient) and asp.tenant_id == "1001" and asp.concurrency == 4
    assert asp.token_url == "http://127.0.0.1:8100/asperion/connect/token"


@pytest.mark.parametrize(
    ("app", "spec", "fragment"),
    [
        ("woocommerce", {**WOO, "consumer_secret": ""}, "Consumer secret (consumer_secret) is required"),
        ("woocommerce", {**WOO, "url": "http://shop.example.nl"}, "must use https://"),
        ("woocommerce", {**WOO, "colour": "red"}, "unknown field 'colour'"),
        ("asperion", {**ASP, "tenant_id": "abc"}, "whole number"),
        ("asperion", {**ASP, "app": "woocommerce"}, "expected 'asperion'"),
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
