"""The composition root mounts the sandbox only as the demo plugin, and configuration lives in one settings object."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from litestar.testing import TestClient

from engine import cli as engine_cli
from engine.db import Database
from engine.settings import DEFAULT_BASE_URL, Settings, configure, get_settings
from engine.store import list_connections
from engine.webhooks import delivery_url

ORDERS = "/sandbox/woocommerce/wp-json/wc/v3/orders"


def _settings(tmp_path: Path, sqlite_url: str, *, demo: bool) -> Settings:
    return Settings(
        var_dir=tmp_path,
        database_url=sqlite_url,
        redis_url=None,
        secret_key="composition-test",
        demo=demo,
        base_url="http://127.0.0.1:9123",
    )


def test_production_web_app_never_mounts_the_sandbox(tmp_path: Path, sqlite_url: str) -> None:
    from web.app import create_app

    with TestClient(create_app(_settings(tmp_path, sqlite_url, demo=True))) as client:
        assert client.get(ORDERS).status_code == 404  # the flag alone mounts nothing: only koppel.app does


def test_composition_root_mounts_the_demo_only_when_asked(tmp_path: Path, sqlite_url: str) -> None:
    from koppel.app import create_app

    with TestClient(create_app(_settings(tmp_path, sqlite_url, demo=False))) as client:
        assert client.get(ORDERS).status_code == 404
    with TestClient(create_app(_settings(tmp_path, sqlite_url, demo=True))) as client:
        assert client.get(ORDERS).status_code == 401  # mounted: the simulated store wants its API key

    async def stored() -> dict[str, str]:
        db = Database(sqlite_url)
        try:
            return {row.name: str(row.settings.get("url")) for row in await list_connections(db)}
        finally:
            await db.dispose()

    urls = asyncio.run(stored())
    assert {"woocommerce", "asperion"} <= set(urls)  # and one per other simulator (mollie)
    assert urls == {name: f"http://127.0.0.1:9123/sandbox/{name}" for name in urls}  # from settings.base_url


def test_base_url_and_smtp_come_from_the_settings_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_BASE_URL", "https://koppel.example.nl/")
    monkeypatch.setenv("KOPPEL_SMTP_HOST", "mail.example.nl")
    monkeypatch.setenv("KOPPEL_SMTP_SSL", "1")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.base_url == "https://koppel.example.nl"
    assert settings.smtp is not None and settings.smtp.host == "mail.example.nl" and settings.smtp.port == 465
    assert delivery_url("f1") == "https://koppel.example.nl/hooks/woocommerce/f1"
    monkeypatch.delenv("KOPPEL_SMTP_HOST")
    monkeypatch.delenv("KOPPEL_BASE_URL")
    get_settings.cache_clear()
    assert get_settings().smtp is None and get_settings().base_url == DEFAULT_BASE_URL


def test_configured_settings_win_over_the_environment(tmp_path: Path) -> None:
    import engine.settings as module

    try:
        configure(
            Settings(
                var_dir=tmp_path,
                database_url="sqlite+aiosqlite://",
                redis_url=None,
                secret_key=None,
                base_url="http://127.0.0.1:8123",
            )
        )
        assert delivery_url("f2") == "http://127.0.0.1:8123/hooks/woocommerce/f2"
    finally:
        module._configured.clear()
        get_settings.cache_clear()


def test_engine_cli_leaves_serving_to_the_composition_root(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine_cli.main(["serve"]) == engine_cli.EXIT_INVALID
    assert "koppel.cli" in capsys.readouterr().err
