"""'Connect with Asperion': the OAuth authorization-code flow against the mounted sandbox gives a connection its own
refresh token, without anybody pasting one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox import credentials as c
from tests.web.conftest import ADMIN


@dataclass
class LiveSite:
    client: httpx.Client
    base: str

    def htmx(self) -> dict[str, str]:
        page = self.client.get("/connections")
        found = re.search(r'X-CSRF-Token": "([^"]+)"', page.text)
        assert found, page.text[:300]
        return {"X-CSRF-Token": found.group(1), "HX-Request": "true"}


@pytest.fixture
def demo_site(sqlite_url: str, tmp_path: Path) -> Iterator[LiveSite]:
    """Koppel with the sandbox mounted, on a real port: the code exchange is a real HTTP call from the server."""
    from engine.settings import Settings
    from koppel.app import create_app
    from tests.sandbox.server import serve_app

    settings = Settings(var_dir=tmp_path, database_url=sqlite_url, redis_url=None, secret_key="oauth-test", demo=True)
    with serve_app(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/setup")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        client.post(
            "/setup",
            data={"email": ADMIN[0], "password": ADMIN[1], "password2": ADMIN[1], "csrf_token": token.group(1)},
        )
        yield LiveSite(client=client, base=base)


def _new_asperion_connection(site: LiveSite) -> str:
    answer = site.client.post(
        "/connections/save",
        data={
            "app": "asperion",
            "name": "my-books",
            "url": f"{site.base}/sandbox/asperion",
            "identity_url": f"{site.base}/sandbox/asperion",
            "client_id": c.ASPERION_CLIENT_ID,
            "client_secret": c.ASPERION_CLIENT_SECRET,
            "tenant_id": "1001",
        },
        headers=site.htmx(),
    )
    assert answer.status_code == 200, answer.text
    found = re.search(r"/connections/([0-9a-f]{32})", answer.headers["HX-Redirect"])
    assert found
    return found.group(1)


def test_connect_with_asperion_stores_a_working_token(demo_site: LiveSite) -> None:
    site = demo_site
    conn_id = _new_asperion_connection(site)
    page = site.client.get(f"/connections/{conn_id}")
    assert "Connect with Asperion" in page.text
    start = site.client.post(f"/connections/{conn_id}/asperion/connect", headers=site.htmx())
    authorize = start.headers["HX-Redirect"]
    assert authorize.startswith(f"{site.base}/sandbox/asperion/connect/authorize?")
    assert parse_qs(urlsplit(authorize).query)["redirect_uri"] == [f"{site.base}/connections/asperion/callback"]
    approved = site.client.get(authorize, follow_redirects=False)
    assert approved.status_code == 302
    back = site.client.get(approved.headers["location"], follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"/connections/{conn_id}?connected=1"
    assert "tokens are stored" in site.client.get(back.headers["location"]).text
    tested: Any = site.client.post(f"/connections/{conn_id}/test", headers=site.htmx())
    assert "Koppel Demo B.V." in tested.text
    # the printed demo refresh token was never used by this connection: it still works
    answer = site.client.post(
        "/sandbox/asperion/connect/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": c.ASPERION_INITIAL_REFRESH_TOKEN,
            "client_id": c.ASPERION_CLIENT_ID,
            "client_secret": c.ASPERION_CLIENT_SECRET,
        },
    )
    assert answer.status_code == 200


def test_a_forged_callback_is_refused(demo_site: LiveSite) -> None:
    site = demo_site
    conn_id = _new_asperion_connection(site)
    site.client.post(f"/connections/{conn_id}/asperion/connect", headers=site.htmx())
    forged = site.client.get("/connections/asperion/callback", params={"code": "x", "state": "not-mine"})
    assert forged.status_code == 400 and "not valid" in forged.text


def test_connection_test_is_honest_before_and_after_connecting(demo_site: LiveSite) -> None:
    site = demo_site
    conn_id = _new_asperion_connection(site)
    before: Any = site.client.post(f"/connections/{conn_id}/test", headers=site.htmx())
    assert "Not connected yet: press Connect with Asperion" in before.text
    assert "refresh_token" not in before.text
    start = site.client.post(f"/connections/{conn_id}/asperion/connect", headers=site.htmx())
    approved = site.client.get(start.headers["HX-Redirect"], follow_redirects=False)
    site.client.get(approved.headers["location"], follow_redirects=False)
    assert "Koppel Demo B.V." in site.client.post(f"/connections/{conn_id}/test", headers=site.htmx()).text
    # a wrong client secret is found although a valid access token is cached for the connection
    saved = site.client.post(
        "/connections/save",
        data={
            "id": conn_id,
            "app": "asperion",
            "name": "my-books",
            "url": f"{site.base}/sandbox/asperion",
            "identity_url": f"{site.base}/sandbox/asperion",
            "client_id": c.ASPERION_CLIENT_ID,
            "client_secret": "not-the-secret",
            "tenant_id": "1001",
        },
        headers=site.htmx(),
    )
    assert saved.status_code == 200, saved.text
    after: Any = site.client.post(f"/connections/{conn_id}/test", headers=site.htmx())
    assert "Connection failed." in after.text and "client id or client secret" in after.text
