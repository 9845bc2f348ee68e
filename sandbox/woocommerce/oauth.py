"""OAuth 1.0a one-legged signatures, as ``WC_REST_Authentication::perform_oauth_authentication`` checks them.

WooCommerce requires them on plain HTTP; the sandbox accepts them on any connection (besides Basic and query
string keys). Parameters come from the query string or an ``Authorization: OAuth ...`` header (the body is not
signed). The string to sign is ``METHOD&rawurlencode(url)&k%3Dv%26…`` with keys and values rawurlencoded once
and sorted by key — WooCommerce's own normalisation (values are not encoded twice as RFC 5849 would).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote, unquote

from sandbox.http import Request
from sandbox.woocommerce.errors import WooError

__all__ = ("NonceStore", "oauth_params", "sign", "verify")

_REQUIRED = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
_WINDOW = 15 * 60


def _enc(value: str) -> str:
    return quote(value, safe="~")


def oauth_params(req: Request) -> dict[str, str] | None:
    """The request's parameters when it carries OAuth ones (query or ``Authorization: OAuth``), else None."""
    params = dict(req.query)
    header = req.headers.get("authorization", "")
    if header[:6].lower() == "oauth ":
        for part in header[6:].split(","):
            key, _, value = part.strip().partition("=")
            if key.startswith("oauth_"):
                params[key] = unquote(value.strip().strip('"'))
    return params if any(k.startswith("oauth_") for k in params) else None


def sign(method: str, url: str, params: Mapping[str, str], secret: str, algorithm: str = "HMAC-SHA1") -> str:
    """The base64 signature WooCommerce expects for ``params`` (without ``oauth_signature``)."""
    pairs = sorted((_enc(k), _enc(str(v))) for k, v in params.items() if k != "oauth_signature")
    query = "%26".join(f"{k}%3D{v}" for k, v in pairs)
    base = f"{method.upper()}&{_enc(url)}&{query}"
    digest = hashlib.sha256 if algorithm == "HMAC-SHA256" else hashlib.sha1
    return base64.b64encode(hmac.new(f"{secret}&".encode(), base.encode(), digest).digest()).decode()


class NonceStore:
    """Nonces seen per consumer key in the last 15 minutes."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}

    def use(self, key: str, nonce: str, timestamp: float) -> bool:
        """Record a nonce; False when it was used already."""
        now = time.time()
        self._seen = {k: t for k, t in self._seen.items() if now - t < _WINDOW}
        if (key, nonce) in self._seen:
            return False
        self._seen[(key, nonce)] = timestamp
        return True


def _fail(message: str, code: str = "woocommerce_rest_authentication_error") -> WooError:
    return WooError(code, message, 401)


def verify(req: Request, params: Mapping[str, str], keys: Mapping[str, tuple[str, str]], nonces: NonceStore) -> str:
    """Check an OAuth-signed request; returns its consumer key.

    Raises:
        WooError: 401 with WooCommerce's messages for missing parameters, unknown key, bad signature, timestamp
            or nonce.
    """
    missing = [p for p in _REQUIRED if not params.get(p)]
    if missing:
        raise _fail(
            f"Missing OAuth parameter {', '.join(missing)}", "woocommerce_rest_authentication_missing_parameter"
        )
    key = params["oauth_consumer_key"]
    if key not in keys:
        raise _fail("Consumer key is invalid.")
    method = params["oauth_signature_method"]
    if method not in ("HMAC-SHA1", "HMAC-SHA256"):
        raise _fail("Invalid signature - signature method is invalid.")
    url = req.base_url + req.path
    expected = sign(req.method, url, params, keys[key][0], method)
    if not hmac.compare_digest(expected, params["oauth_signature"].replace(" ", "+")):
        raise _fail("Invalid signature - provided signature does not match.")
    try:
        stamp = float(params["oauth_timestamp"])
    except ValueError:
        raise _fail("Invalid timestamp.") from None
    if abs(time.time() - stamp) > _WINDOW:
        raise _fail("Invalid timestamp.")
    if not nonces.use(key, params["oauth_nonce"], stamp):
        raise _fail("Invalid nonce - nonce has already been used.")
    return key
