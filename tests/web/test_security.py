"""Security of the pages: log-in throttling, sessions that really end, Secure cookies, invitations and roles."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.web.conftest import ADMIN, Site, login


def _csrf(client: TestClient[Any], page: str = "/connections") -> str:
    found = re.search(r'X-CSRF-Token": "([^"]+)"', client.get(page).text)
    assert found
    return found.group(1)


def _htmx(client: TestClient[Any]) -> dict[str, str]:
    return {"X-CSRF-Token": _csrf(client, "/"), "HX-Request": "true"}


def _invite(site: Site, email: str, role: str) -> str:
    answer = site.client.post("/users/invite", data={"email": email, "role": role}, headers=site.htmx())
    assert answer.status_code == 200, answer.text
    link = re.search(r'<pre id="invite-link">([^<]+)</pre>', answer.text)
    assert link, answer.text[:2000]
    return link.group(1).strip()


def _join(client: TestClient[Any], link: str, password: str = "another good password") -> Any:
    path = link.split("testserver.local", 1)[-1] if "testserver.local" in link else "/" + link.split("/", 3)[3]
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return client.post(
        path,
        data={"password": password, "password2": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


def _fresh_browser(site: Site) -> TestClient[Any]:
    client: TestClient[Any] = TestClient(site.client.app, base_url=str(site.client.base_url))
    client.blocking_portal = site.client.blocking_portal
    return client


def test_failed_log_ins_are_throttled_per_account(site: Site) -> None:
    site.client.post("/logout", headers=site.htmx())
    answers = [login(site.client, ADMIN[0], "wrong password!").status_code for _ in range(6)]
    assert answers[:5] == [400] * 5, answers
    assert answers[5] == 429, "the sixth failure in a row must wait"
    blocked = login(site.client, ADMIN[0], ADMIN[1])
    assert blocked.status_code == 429, "even the right password waits until the block ends"
    assert "Too many failed log-ins" in blocked.text and "Wait" in blocked.text
    assert int(blocked.headers["retry-after"]) >= 1


def test_throttle_counts_per_address_across_accounts(site: Site) -> None:
    site.client.post("/logout", headers=site.htmx())
    for n in range(5):
        assert login(site.client, f"nobody{n}@example.nl", "wrong password!").status_code == 400
    answer = login(site.client, "someone-else@example.nl", "wrong password!")
    assert answer.status_code == 429, "one address trying many accounts is slowed down too"


def test_throttle_message_is_dutch_for_dutch_users(site: Site) -> None:
    site.client.post("/lang", data={"lang": "nl", "next": "/", "csrf_token": site.csrf})
    site.client.post("/logout", headers=site.htmx())
    for _ in range(5):
        login(site.client, ADMIN[0], "wrong password!")
    answer = login(site.client, ADMIN[0], "wrong password!")
    assert answer.status_code == 429
    assert "Te veel mislukte inlogpogingen" in answer.text


def test_a_cookie_copied_before_log_out_no_longer_works(site: Site) -> None:
    copied = dict(site.client.cookies)
    assert site.client.get("/connections").status_code == 200
    site.client.post("/logout", headers=site.htmx())
    thief = _fresh_browser(site)
    thief.cookies.update(copied)
    answer = thief.get("/connections", follow_redirects=False)
    assert answer.status_code in (302, 303) and "/login" in answer.headers["location"]
    assert thief.get("/api/flows").status_code == 401


def test_logging_out_ends_the_other_sessions_of_that_user(site: Site) -> None:
    other = _fresh_browser(site)
    assert login(other).status_code == 303
    assert other.get("/api/flows").status_code == 200
    site.client.post("/logout", headers=site.htmx())
    assert other.get("/api/flows").status_code == 401


def test_password_change_ends_every_other_session(site: Site) -> None:
    other = _fresh_browser(site)
    assert login(other).status_code == 303
    new = "a brand new password"
    answer = site.client.post(
        "/account/password",
        data={"current": ADMIN[1], "password": new, "password2": new},
        headers=site.htmx(),
    )
    assert answer.status_code == 200 and "Your password is changed" in answer.text
    assert site.client.get("/api/flows").status_code == 200, "the session that changed it goes on"
    assert other.get("/api/flows").status_code == 401, "every other session ended"
    assert login(_fresh_browser(site), ADMIN[0], ADMIN[1]).status_code == 400
    assert login(_fresh_browser(site), ADMIN[0], new).status_code == 303


def test_password_change_needs_the_current_password(site: Site) -> None:
    answer = site.client.post(
        "/account/password",
        data={"current": "not it at all", "password": "whatever long", "password2": "whatever long"},
        headers=site.htmx(),
    )
    assert answer.status_code == 400 and "The current password is wrong." in answer.text


def test_session_cookie_is_secure_over_https(sqlite_url: str, tmp_path: Path) -> None:
    from engine.settings import Settings
    from web.app import create_app

    settings = Settings(var_dir=tmp_path, database_url=sqlite_url, redis_url=None, secret_key="web-test-secret")
    with TestClient(create_app(settings), base_url="https://koppel.example") as client:
        answer = client.get("/setup")
    cookies = answer.headers.get_list("set-cookie")
    assert cookies and all("Secure" in c for c in cookies), cookies
    with TestClient(create_app(settings)) as client:
        plain = client.get("/setup").headers.get_list("set-cookie")
    assert plain and not any("Secure" in c for c in plain), "plain http (development) keeps working"


def test_forwarded_proto_counts_only_behind_a_trusted_proxy(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.settings import Settings
    from web.app import create_app

    settings = Settings(var_dir=tmp_path, database_url=sqlite_url, redis_url=None, secret_key="web-test-secret")
    header = {"X-Forwarded-Proto": "https"}
    with TestClient(create_app(settings)) as client:
        untrusted = client.get("/setup", headers=header).headers.get_list("set-cookie")
    assert untrusted and not any("Secure" in c for c in untrusted)
    with TestClient(create_app(dataclasses.replace(settings, trusted_proxy=True))) as client:
        trusted = client.get("/setup", headers=header).headers.get_list("set-cookie")
    assert trusted and all("Secure" in c for c in trusted)


def test_owner_invites_an_editor_who_cannot_manage_users_or_connections(site: Site) -> None:
    link = _invite(site, "editor@example.nl", "editor")
    editor = _fresh_browser(site)
    assert _join(editor, link).status_code == 303
    assert editor.get("/").status_code == 200
    # An editor changes flows ...
    created = editor.post(
        "/api/flows", json={"template": "orders-to-sales-invoices"}, headers={"X-CSRF-Token": _csrf(editor, "/")}
    )
    assert created.status_code == 201, created.text
    # ... but neither users nor connections.
    assert editor.get("/users").status_code == 403
    refused = editor.post(
        "/api/connections",
        json={"name": "x", "app": "woocommerce", "fields": {}},
        headers={"X-CSRF-Token": _csrf(editor, "/")},
    )
    assert refused.status_code == 403 and "Only an owner" in refused.text
    # The link works once.
    assert _fresh_browser(site).get(link.split("testserver.local", 1)[-1]).status_code == 404


def test_a_viewer_reads_but_changes_nothing(site: Site) -> None:
    link = _invite(site, "viewer@example.nl", "viewer")
    viewer = _fresh_browser(site)
    assert _join(viewer, link).status_code == 303
    assert viewer.get("/api/flows").status_code == 200
    assert viewer.get("/runs").status_code == 200
    refused = viewer.post(
        "/api/flows", json={"template": "orders-to-sales-invoices"}, headers={"X-CSRF-Token": _csrf(viewer, "/")}
    )
    assert refused.status_code == 403 and "Viewers may look" in refused.text
    page = viewer.post("/users/invite", data={"email": "x@example.nl", "role": "owner"}, headers=_htmx(viewer))
    assert page.status_code == 403
    # Every role may change its own password and make tokens (no stronger than itself).
    tokens = viewer.get("/account/tokens")
    assert tokens.status_code == 200 and 'value="editor"' not in tokens.text


def test_owner_changes_a_role_and_removes_a_user_but_never_the_last_owner(site: Site) -> None:
    link = _invite(site, "colleague@example.nl", "viewer")
    colleague = _fresh_browser(site)
    assert _join(colleague, link).status_code == 303
    users = site.client.get("/users").text
    ids = dict(re.findall(r'<tr data-email="([^"]+)">.*?/users/([0-9a-f]+)/role', users, re.DOTALL))
    assert set(ids) == {ADMIN[0], "colleague@example.nl"}
    site.client.post(f"/users/{ids['colleague@example.nl']}/role", data={"role": "editor"}, headers=site.htmx())
    assert (
        colleague.post(
            "/api/flows", json={"template": "orders-to-sales-invoices"}, headers={"X-CSRF-Token": _csrf(colleague, "/")}
        ).status_code
        == 201
    )
    refused = site.client.post(f"/users/{ids[ADMIN[0]]}/role", data={"role": "viewer"}, headers=site.htmx())
    assert refused.status_code == 400 and "at least one owner" in refused.text
    site.client.post(f"/users/{ids['colleague@example.nl']}/remove", headers=site.htmx())
    assert colleague.get("/api/flows").status_code == 401, "a removed user's session ends"
    audit = site.client.get("/audit").text
    assert "colleague@example.nl" in audit and "change role" in audit and "remove" in audit


def test_audit_trail_names_who_changed_a_flow_and_a_connection(site: Site) -> None:
    headers = {"X-CSRF-Token": site.csrf}
    flow = site.client.post("/api/flows", json={"template": "orders-to-sales-invoices"}, headers=headers)
    assert flow.status_code == 201
    connection = site.client.post(
        "/api/connections",
        json={
            "name": "shop",
            "app": "woocommerce",
            "fields": {"url": "https://shop.example", "consumer_key": "ck_a", "consumer_secret": "cs_b"},
        },
        headers=headers,
    )
    assert connection.status_code == 201, connection.text
    site.client.delete(f"/api/flows/{flow.json()['id']}", headers=headers)
    events = site.client.get("/api/audit").json()["events"]
    seen = [(e["actor"], e["object_type"], e["action"]) for e in events]
    assert (ADMIN[0], "flow", "delete flow") in seen
    assert (ADMIN[0], "connection", "create connection") in seen
    assert (ADMIN[0], "flow", "create flow") in seen
    assert any(e["object_id"] == flow.json()["id"] for e in events if e["action"] == "delete flow")
    page = site.client.get("/audit")
    assert page.status_code == 200 and "delete flow" in page.text


def test_the_first_account_is_the_owner(site: Site) -> None:
    page = site.client.get("/users")
    assert page.status_code == 200
    assert re.search(r'data-email="admin@example.nl">.*?value="owner" selected', page.text, re.DOTALL)


def test_an_unexpected_error_page_shows_an_error_id_in_dutch_and_no_traceback(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from engine import store

    site.client.post("/lang", data={"lang": "nl", "next": "/", "csrf_token": site.csrf})

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(store, "list_connections", broken)
    with caplog.at_level(logging.ERROR, logger="koppel.web.errors"):
        page = site.client.get("/connections", headers={"Accept": "text/html"})
    assert page.status_code == 500
    found = re.search(r"vastgelegd met kenmerk ([0-9a-f]{8})", page.text)
    assert found, page.text[-1500:]
    assert "secret internals" not in page.text and "Traceback" not in page.text
    assert any(found.group(1) in r.getMessage() and r.exc_info for r in caplog.records)


def test_nul_in_a_form_field_is_refused(site: Site) -> None:
    answer = site.client.post(
        "/users/invite", data={"email": "a\x00b@example.nl", "role": "viewer"}, headers=site.htmx()
    )
    assert answer.status_code == 400 and "email" in answer.text
