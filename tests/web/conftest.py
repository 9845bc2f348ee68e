"""A Koppel app on a fresh SQLite database, driven with Litestar's TestClient, logged in as the admin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

ADMIN = ("admin@example.nl", "correct horse battery")


@dataclass
class Site:
    client: TestClient[Any]
    database_url: str

    @property
    def csrf(self) -> str:
        page = self.client.get("/connections")
        found = re.search(r'X-CSRF-Token": "([^"]+)"', page.text)
        assert found, page.text[:500]
        return found.group(1)

    def htmx(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf, "HX-Request": "true"}


def login(client: TestClient[Any], email: str = ADMIN[0], password: str = ADMIN[1]) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}, follow_redirects=False
    )


@pytest.fixture
def app_client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient[Any]]:
    from engine.settings import Settings
    from web.app import create_app

    settings = Settings(var_dir=tmp_path, database_url=sqlite_url, redis_url=None, secret_key="web-test-secret")
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def site(app_client: TestClient[Any], sqlite_url: str) -> Site:
    page = app_client.get("/setup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = app_client.post(
        "/setup",
        data={"email": ADMIN[0], "password": ADMIN[1], "password2": ADMIN[1], "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    return Site(client=app_client, database_url=sqlite_url)
