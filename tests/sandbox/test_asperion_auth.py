"""Asperion simulator: OAuth 2.0 (authorize, code, rotating refresh tokens), bearer auth, tenancy, language, mounts."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
from litestar import Litestar, asgi

from sandbox.asperion import AsperionSim
from sandbox.credentials import ASPERION_CLIENT_ID, ASPERION_CLIENT_SECRET, ASPERION_INITIAL_REFRESH_TOKEN
from tests.sandbox.asperion_server import Api, asp, asperion_live, mounted, serve

__all__ = ("asp", "asperion_live")

REDIRECT = "http://127.0.0.1:9/callback"


def _token(live_url: str, **form: str) -> httpx.Response:
    data = {"client_id": ASPERION_CLIENT_ID, "client_secret": ASPERION_CLIENT_SECRET, **form}
    return httpx.post(f"{live_url}/connect/token", data=data)


def _authorize(live_url: str, **params: str) -> httpx.Response:
    query = {"client_id": ASPERION_CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", **params}
    return httpx.get(f"{live_url}/connect/authorize", params=query, follow_redirects=False)


def test_authorize_redirects_with_code_and_state_and_the_code_buys_tokens_once(asp: Api) -> None:
    answer = _authorize(asp.url, state="xyz-42", scope="api offline_access")
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["xyz-42"]
    code = query["code"][0]

    tokens = _token(asp.url, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert tokens.status_code == 200
    body = tokens.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert tokens.headers["cache-control"] == "no-store"
    me = httpx.get(f"{asp.url}/v1/administrations", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200

    again = _token(asp.url, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_authorize_rejects_unknown_client_and_bad_response_type(asp: Api) -> None:
    assert _authorize(asp.url, client_id="someone-else").status_code == 400
    answer = _authorize(asp.url, response_type="token", state="s")
    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["location"]).query) == {
        "error": ["unsupported_response_type"],
        "state": ["s"],
    }


def test_code_exchange_checks_redirect_uri_and_pkce(asp: Api) -> None:
    code = parse_qs(urlsplit(_authorize(asp.url).headers["location"]).query)["code"][0]
    wrong = _token(asp.url, grant_type="authorization_code", code=code, redirect_uri="http://evil.test/cb")
    assert wrong.json()["error"] == "invalid_grant"

    verifier = "a-verifier-of-sufficient-length-0123456789-abcdefghij"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    location = _authorize(asp.url, code_challenge=challenge, code_challenge_method="S256").headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    bad = _token(asp.url, grant_type="authorization_code", code=code, code_verifier="wrong")
    assert bad.json()["error"] == "invalid_grant"
    location = _authorize(asp.url, code_challenge=challenge, code_challenge_method="S256").headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    good = _token(asp.url, grant_type="authorization_code", code=code, code_verifier=verifier)
    assert good.status_code == 200


def test_refresh_tokens_rotate_and_reset_restores_the_initial_one(asp: Api) -> None:
    first = _token(asp.url, grant_type="refresh_token", refresh_token=ASPERION_INITIAL_REFRESH_TOKEN)
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != ASPERION_INITIAL_REFRESH_TOKEN

    reused = _token(asp.url, grant_type="refresh_token", refresh_token=ASPERION_INITIAL_REFRESH_TOKEN)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"

    second = _token(asp.url, grant_type="refresh_token", refresh_token=rotated)
    assert second.status_code == 200
    assert _token(asp.url, grant_type="refresh_token", refresh_token=rotated).status_code == 400
    newest = second.json()["access_token"]
    assert httpx.get(f"{asp.url}/v1/journals", headers={"Authorization": f"Bearer {newest}"}).status_code == 200

    asp.sim.reset()
    assert _token(asp.url, grant_type="refresh_token", refresh_token=ASPERION_INITIAL_REFRESH_TOKEN).status_code == 200


def test_token_endpoint_errors(asp: Api) -> None:
    wrong_secret = httpx.post(
        f"{asp.url}/connect/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN,
            "client_id": ASPERION_CLIENT_ID,
            "client_secret": "nope",
        },
    )
    assert wrong_secret.status_code == 400
    assert wrong_secret.json()["error"] == "invalid_client"
    # the failed attempt did not use up the refresh token
    assert _token(asp.url, grant_type="refresh_token", refresh_token=ASPERION_INITIAL_REFRESH_TOKEN).status_code == 200
    assert _token(asp.url, grant_type="client_credentials").json()["error"] == "unsupported_grant_type"
    as_json = httpx.post(f"{asp.url}/connect/token", json={"grant_type": "refresh_token"})
    assert as_json.json()["error"] == "invalid_request"


def test_client_credentials_may_also_come_as_basic_auth(asp: Api) -> None:
    answer = httpx.post(
        f"{asp.url}/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN},
        auth=(ASPERION_CLIENT_ID, ASPERION_CLIENT_SECRET),
    )
    assert answer.status_code == 200


def test_missing_unknown_and_expired_tokens_get_401_with_invalid_token(asp: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        answer = httpx.get(f"{asp.url}/v1/debtors", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert answer.json()["status"] == 401

    asp.sim.advance_clock(3599)
    assert asp.get("/v1/debtors").status_code == 200
    asp.sim.advance_clock(2)
    expired = asp.get("/v1/debtors")
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert "expired" in expired.headers["www-authenticate"]


def test_tenant_header_chooses_the_administration(asp: Api) -> None:
    default = asp.get("/v1/debtors").json()["_meta"]
    assert (default["administrationId"], default["administrationName"]) == (1001, "Koppel Demo B.V.")
    for header in ("X-Tenant-Id", "X-TenantId"):
        meta = asp.get("/v1/debtors", headers={header: "1002"}).json()["_meta"]
        assert (meta["administrationId"], meta["administrationName"]) == (1002, "Tweede Winkel B.V.")

    created = asp.post("/v1/debtors", json={"name": "Alleen in 1001"})
    assert created.status_code == 201
    assert asp.get("/v1/debtors", params={"Name": "Alleen"}).json()["_meta"]["totalCount"] == 1
    other = asp.get("/v1/debtors", params={"Name": "Alleen"}, headers={"X-Tenant-Id": "1002"})
    assert other.json()["_meta"]["totalCount"] == 0
    assert asp.get(f"/v1/debtors/{created.json()['id']}", headers={"X-Tenant-Id": "1002"}).status_code == 404

    forbidden = asp.get("/v1/debtors", headers={"X-Tenant-Id": "4242"})
    assert forbidden.status_code == 403
    assert "4242" in forbidden.json()["detail"]
    assert asp.get("/v1/debtors", headers={"X-Tenant-Id": "abc"}).status_code == 400


def test_administrations_lists_both(asp: Api) -> None:
    body = asp.get("/v1/administrations").json()
    assert [(item["id"], item["name"]) for item in body["_data"]] == [
        (1001, "Koppel Demo B.V."),
        (1002, "Tweede Winkel B.V."),
    ]
    assert asp.get("/v1/administrations", params={"Name": "tweede"}).json()["_meta"]["totalCount"] == 1


def test_accept_language_sets_the_language_of_errors(asp: Api) -> None:
    body = {"date": "2024-01-22", "debtorCustomerNumber": "nobody", "journalId": "70", "lines": {"_data": []}}
    dutch = asp.post("/v1/salesinvoiceswithlines", json=body).json()
    assert dutch["title"] == "Er zijn een of meer validatiefouten opgetreden."
    assert dutch["errors"]["DebtorCustomerNumber"] == ["Debiteur met klantnummer 'nobody' bestaat niet."]
    english = asp.post("/v1/salesinvoiceswithlines", json=body, headers={"Accept-Language": "en-US"}).json()
    assert english["title"] == "One or more validation errors occurred."
    assert english["errors"]["DebtorCustomerNumber"] == ["Debtor with customer number 'nobody' does not exist."]
    preferred = asp.post(
        "/v1/salesinvoiceswithlines", json=body, headers={"Accept-Language": "de-DE, nl;q=0.5, en;q=0.9"}
    ).json()
    assert preferred["errors"]["Lines"] == ["A sales invoice needs at least one line."]
    for key in ("type", "title", "status", "detail", "traceId", "errors"):
        assert key in english


def test_unknown_routes_and_methods_answer_problem_details(asp: Api) -> None:
    missing = asp.get("/v1/nothing-here", headers={"Accept-Language": "en"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    not_allowed = asp.client.delete("/v1/debtors/1")
    assert not_allowed.status_code == 405
    assert "PUT" in not_allowed.headers.get("allow", "")


def test_routes_match_without_regard_to_case_and_ids_keep_theirs(asp: Api) -> None:
    assert asp.get("/v1/SalesInvoicesWithLines").status_code == 200
    assert asp.get("/V1/VatCodes/OSS-FR-5.5").json()["percentage"] == 5.5


def test_works_under_any_mount_prefix() -> None:
    sim = AsperionSim()
    token = sim.issue_access_token()
    headers = {"Authorization": f"Bearer {token}"}
    nested = Litestar(
        [asgi("/sandbox", is_mount=True, copy_scope=True)(mounted(sim, "/asperion"))], openapi_config=None
    )
    for prefix, app in (("/asperion", mounted(sim, "/asperion")), ("/sandbox/asperion", nested)):
        with serve(app) as base:
            body = httpx.get(f"{base}{prefix}/v1/vatcodes", params={"pageSize": 5}, headers=headers).json()
            assert body["_meta"]["self"] == f"{base}{prefix}/v1/vatcodes?pageSize=5"
            assert body["_meta"]["nextPage"] == f"{base}{prefix}/v1/vatcodes?pageSize=5&page=2"
            assert body["_data"][0]["_meta"]["self"] == f"{base}{prefix}/v1/vatcodes/H21"
    with serve(sim.app) as base:
        body = httpx.get(f"{base}/v1/journals", headers=headers).json()
        assert body["_data"][0]["_meta"]["self"] == f"{base}/v1/journals/70"


def test_discovery_document_names_the_endpoints(asp: Api) -> None:
    body = httpx.get(f"{asp.url}/.well-known/openid-configuration").json()
    assert body["token_endpoint"] == f"{asp.url}/connect/token"
    assert body["authorization_endpoint"] == f"{asp.url}/connect/authorize"
