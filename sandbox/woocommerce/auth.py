"""Consumer key authentication as ``WC_REST_Authentication`` does it over HTTPS.

Loopback (and any) HTTP to the sandbox is treated as the HTTPS case: ``consumer_key``/``consumer_secret`` in
the query string first, then HTTP Basic; OAuth 1.0a signed requests (WooCommerce's plain-HTTP method) are
accepted too (:mod:`sandbox.woocommerce.oauth`). A wrong secret for a known key is an authentication error; an unknown
key is no error at all (the request continues anonymously and the endpoint's permission check answers 401); a
read-only key is refused on writes before routing.
"""

from __future__ import annotations

import base64
import hmac

from sandbox.credentials import WOO_READ_KEY, WOO_READ_SECRET, WOO_RW_KEY, WOO_RW_SECRET
from sandbox.http import Request
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.oauth import NonceStore, oauth_params, verify

__all__ = ("KEYS", "NONCES", "WWW_AUTHENTICATE", "authenticate")

# consumer key → (secret, permissions)
KEYS: dict[str, tuple[str, str]] = {
    WOO_RW_KEY: (WOO_RW_SECRET, "read_write"),
    WOO_READ_KEY: (WOO_READ_SECRET, "read"),
}

WWW_AUTHENTICATE = (
    'Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer secret in the '
    + 'password field."'
)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _credentials(req: Request) -> tuple[str, str] | None:
    key, secret = req.arg("consumer_key"), req.arg("consumer_secret")
    if key and secret:
        return key, secret
    header = req.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if user and password:
            return user, password
    return None


NONCES = NonceStore()


def authenticate(req: Request) -> str | None:
    """The permission (``read`` / ``read_write``) of the request's key, or None when anonymous.

    Raises:
        WooError: 401 for a wrong secret, a bad OAuth signature or a write with a read-only key.
    """
    creds = _credentials(req)
    if creds is None:
        params = oauth_params(req)
        if params is None:
            return None
        key = verify(req, params, KEYS, NONCES)
        return _permission(req, KEYS[key][1])
    key, secret = creds
    known = KEYS.get(key)
    if known is None:
        return None
    if not hmac.compare_digest(known[0].encode(), secret.encode()):
        raise WooError(
            "woocommerce_rest_authentication_error",
            "Consumer secret is invalid.",
            401,
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    return _permission(req, known[1])


def _permission(req: Request, permission: str) -> str:
    if req.method in _WRITE_METHODS and permission == "read":
        raise WooError(
            "woocommerce_rest_authentication_error", "The API key provided does not have write permissions.", 401
        )
    return permission
