"""Consumer-key authentication of the simulated store (woocommerce-api.md §1 Auth), over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from sandbox.credentials import WOO_READ_KEY, WOO_READ_SECRET, WOO_RW_KEY, WOO_RW_SECRET
from tests.sandbox.conftest import REST
from tests.sandbox.server import SandboxURL

FIXTURES = Path(__file__).with_name("fixtures")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text("utf-8"))


def test_basic_auth_and_query_string_both_work(sandbox: SandboxURL) -> None:
    url = sandbox + REST + "/orders"
    assert httpx.get(url, auth=(WOO_RW_KEY, WOO_RW_SECRET)).status_code == 200
    answer = httpx.get(url, params={"consumer_key": WOO_RW_KEY, "consumer_secret": WOO_RW_SECRET})
    assert answer.status_code == 200
    assert answer.json() == []


def test_no_credentials_cannot_list_or_view(sandbox: SandboxURL) -> None:
    answer = httpx.get(sandbox + REST + "/orders")
    assert answer.status_code == 401
    assert answer.json() == fixture("error-401-cannot-list.json")
    single = httpx.get(sandbox + REST + "/orders/12")
    assert single.status_code == 401
    assert single.json()["message"] == "Sorry, you cannot view this resource."


def test_unknown_key_is_anonymous_not_an_auth_error(sandbox: SandboxURL) -> None:
    answer = httpx.get(sandbox + REST + "/products", auth=("ck_unknown", "cs_whatever"))
    assert answer.status_code == 401
    assert answer.json()["code"] == "woocommerce_rest_cannot_view"
    assert "www-authenticate" not in answer.headers


def test_wrong_secret_is_rejected_with_www_authenticate(sandbox: SandboxURL) -> None:
    answer = httpx.get(sandbox + REST + "/orders", auth=(WOO_RW_KEY, "cs_wrong"))
    assert answer.status_code == 401
    assert answer.json() == fixture("error-401-invalid-secret.json")
    assert answer.headers["www-authenticate"].startswith('Basic realm="WooCommerce API.')
    by_query = httpx.get(sandbox + REST + "/orders", params={"consumer_key": WOO_RW_KEY, "consumer_secret": "x"})
    assert by_query.json()["code"] == "woocommerce_rest_authentication_error"


def test_read_only_key_reads_but_cannot_write(sandbox: SandboxURL) -> None:
    auth = (WOO_READ_KEY, WOO_READ_SECRET)
    assert httpx.get(sandbox + REST + "/customers", auth=auth).status_code == 200
    answer = httpx.post(sandbox + REST + "/customers", auth=auth, json={"email": "a@example.nl"})
    assert answer.status_code == 401
    assert answer.json() == fixture("error-401-key-no-write-permission.json")
    listing = httpx.get(sandbox + REST + "/customers", auth=(WOO_RW_KEY, WOO_RW_SECRET), params={"role": "all"})
    assert listing.json() == []


def test_unknown_route_is_rest_no_route(woo: httpx.Client) -> None:
    answer = woo.get("/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["code"] == "rest_no_route"


def test_plain_permalinks_rest_route_parameter(sandbox: SandboxURL) -> None:
    answer = httpx.get(
        sandbox + "/woocommerce/", params={"rest_route": "/wc/v3/orders"}, auth=(WOO_RW_KEY, WOO_RW_SECRET)
    )
    assert answer.status_code == 200
    assert answer.json() == []


def _oauth(
    method: str,
    url: str,
    key: str,
    secret: str,
    nonce: str,
    extra: dict | None = None,
    timestamp: int | None = None,
    algorithm: str = "HMAC-SHA256",
) -> dict:
    """Sign as WooCommerce's docs describe: sorted rawurlencoded pairs joined with %3D / %26, key = secret + '&'."""
    import base64
    import hashlib
    import hmac
    import time
    from urllib.parse import quote

    params = {
        "oauth_consumer_key": key,
        "oauth_timestamp": str(timestamp or int(time.time())),
        "oauth_nonce": nonce,
        "oauth_signature_method": algorithm,
        **(extra or {}),
    }
    pairs = sorted((quote(k, safe="~"), quote(v, safe="~")) for k, v in params.items())
    base = f"{method}&{quote(url, safe='~')}&" + "%26".join(f"{k}%3D{v}" for k, v in pairs)
    digest = hashlib.sha256 if algorithm == "HMAC-SHA256" else hashlib.sha1
    params["oauth_signature"] = base64.b64encode(
        hmac.new(f"{secret}&".encode(), base.encode(), digest).digest()
    ).decode()
    return params


def test_oauth1_signed_requests(sandbox: SandboxURL) -> None:
    url = sandbox + REST + "/orders"
    ok = httpx.get(
        url, params=_oauth("GET", url, WOO_RW_KEY, WOO_RW_SECRET, "n1", {"per_page": "5"}) | {"per_page": "5"}
    )
    assert ok.status_code == 200, ok.text
    sha1 = _oauth("GET", url, WOO_RW_KEY, WOO_RW_SECRET, "n2", algorithm="HMAC-SHA1")
    assert httpx.get(url, params=sha1).status_code == 200
    assert httpx.get(url, params=sha1).json()["message"] == "Invalid nonce - nonce has already been used."
    bad = _oauth("GET", url, WOO_RW_KEY, "cs_wrong", "n3")
    assert httpx.get(url, params=bad).json()["message"] == "Invalid signature - provided signature does not match."
    old = _oauth("GET", url, WOO_RW_KEY, WOO_RW_SECRET, "n4", timestamp=1_000_000_000)
    assert httpx.get(url, params=old).json()["message"] == "Invalid timestamp."
    unknown = _oauth("GET", url, "ck_nobody", "cs_x", "n5")
    assert httpx.get(url, params=unknown).json()["message"] == "Consumer key is invalid."
    missing = httpx.get(url, params={"oauth_consumer_key": WOO_RW_KEY})
    assert missing.status_code == 401 and missing.json()["code"] == "woocommerce_rest_authentication_missing_parameter"
    read_only = _oauth("POST", url, WOO_READ_KEY, WOO_READ_SECRET, "n6")
    denied = httpx.post(url, params=read_only, json={})
    assert denied.json()["message"] == "The API key provided does not have write permissions."
