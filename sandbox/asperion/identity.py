"""The simulated identity host: ``/connect/authorize`` (approves the demo user at once), ``/connect/token`` and the
OpenID discovery document (IdentityServer layout)."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from sandbox.asperion.tokens import SCOPE, TokenError
from sandbox.asperion.web import json_response
from sandbox.credentials import ASPERION_CLIENT_ID

if TYPE_CHECKING:
    from sandbox.asperion.sim import AsperionSim

__all__ = ("identity_routes",)

AnyRequest = Request[Any, Any, Any]
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(error: TokenError) -> Response[bytes]:
    body = {"error": error.code}
    if error.description:
        body["error_description"] = error.description
    return json_response(body, 400, _NO_STORE)


def _with_query(uri: str, params: dict[str, str]) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"


def _client_credentials(request: AnyRequest, form: dict[str, str]) -> tuple[str | None, str | None]:
    scheme, _, encoded = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            client_id, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


def identity_routes(sim: AsperionSim) -> list[HTTPRouteHandler]:
    """The OAuth 2.0 routes of the identity host.

    Args:
        sim: The simulator whose token store the routes use.

    Returns:
        The route handlers.
    """

    @get("/connect/authorize", name="asperion-authorize")
    async def authorize(request: AnyRequest) -> Response[bytes]:
        params = dict(request.query_params)
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != ASPERION_CLIENT_ID or not redirect_uri.startswith(("http://", "https://")):
            return Response(
                content=b"Sorry, there was an error: unauthorized_client (unknown client_id or redirect_uri)",
                status_code=400,
                media_type="text/plain; charset=utf-8",
            )
        answer: dict[str, str] = {}
        if params.get("response_type") != "code":
            answer["error"] = "unsupported_response_type"
        else:
            method = params.get("code_challenge_method", "plain")
            answer["code"] = sim.tokens.issue_code(redirect_uri, params.get("code_challenge"), method)
            answer["scope"] = params.get("scope", SCOPE)
        if "state" in params:
            answer["state"] = params["state"]
        return Response(content=b"", status_code=302, headers={"Location": _with_query(redirect_uri, answer)})

    @post("/connect/token", name="asperion-token")
    async def token(request: AnyRequest) -> Response[bytes]:
        media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            return _oauth_error(TokenError("invalid_request", "The body must be application/x-www-form-urlencoded."))
        form = {key: str(value) for key, value in (await request.form()).items()}
        try:
            sim.tokens.check_client(*_client_credentials(request, form))
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                answer = sim.tokens.redeem_code(
                    form.get("code", ""), form.get("redirect_uri"), form.get("code_verifier")
                )
            elif grant_type == "refresh_token":
                answer = sim.tokens.refresh(form.get("refresh_token", ""))
            else:
                raise TokenError("unsupported_grant_type")
        except TokenError as error:
            return _oauth_error(error)
        return json_response(answer, 200, _NO_STORE)

    @get("/.well-known/openid-configuration", name="asperion-discovery")
    async def discovery(request: AnyRequest) -> Response[bytes]:
        base = str(request.base_url).rstrip("/")
        return json_response(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/connect/authorize",
                "token_endpoint": f"{base}/connect/token",
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "response_types_supported": ["code"],
                "scopes_supported": SCOPE.split(),
                "code_challenge_methods_supported": ["plain", "S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            }
        )

    return [authorize, token, discovery]
