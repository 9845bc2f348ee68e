"""A live Koppel (demo settings: sandbox mounted at /sandbox) in a thread, and Chromium driven by Playwright.

Under ``CI=true`` these tests run or fail; elsewhere they skip when Chromium is missing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, require

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ADMIN = ("admin@example.nl", "correct horse battery")


@dataclass
class LiveServer:
    url: str
    database_url: str
    app: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def db_call(self, make: Any) -> Any:
        """Run ``make(db)`` (a coroutine factory) on a private connection to the server's database."""
        from engine.db import Database

        async def go() -> Any:
            db = Database(self.database_url)
            try:
                return await make(db)
            finally:
                await db.dispose()

        # Playwright's sync API owns this thread's event loop: use another thread.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, go()).result(timeout=60)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server (and sandbox) per test module, so modules never share state such as rotated OAuth tokens."""
    import uvicorn

    from engine.db import migrate_sync
    from engine.settings import Settings
    from koppel.app import create_app

    tmp = tmp_path_factory.mktemp("live")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite+aiosqlite:///{tmp / 'koppel.db'}"
    migrate_sync(database_url)
    old = os.environ.get("KOPPEL_BASE_URL")
    os.environ["KOPPEL_BASE_URL"] = url
    settings = Settings(
        var_dir=tmp,
        database_url=database_url,
        redis_url=None,
        secret_key="browser-test-secret-key",
        demo=True,
        base_url=url,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    assert server.started, "the live server did not start"
    try:
        yield LiveServer(url=url, database_url=database_url, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if old is None:
            os.environ.pop("KOPPEL_BASE_URL", None)
        else:
            os.environ["KOPPEL_BASE_URL"] = old


@pytest.fixture(scope="module")  # a session-wide Playwright loop would break the async tests after it
def browser() -> Iterator[Any]:
    require(Path(CHROMIUM).exists(), "Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Watch:
    """Everything that would reveal injected script: dialogs, console markers, page errors."""

    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def watched_page(browser: Any) -> Iterator[tuple[Any, Watch]]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = context.new_page()
    watch = Watch()

    def on_dialog(dialog: Any) -> None:
        if dialog.type == "confirm":  # hx-confirm questions are the app's own
            dialog.accept()
            return
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda msg: watch.console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    page.set_default_timeout(15_000)
    try:
        yield page, watch
    finally:
        with contextlib.suppress(Exception):
            context.close()


def speak(page: Any, lang: str) -> None:
    """Switch the logged-in user's language with the top bar's selector and wait for the page to speak it."""
    from playwright.sync_api import expect

    page.get_by_label(re.compile(r"^(Language|Taal)$")).select_option(lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, animations="disabled")
