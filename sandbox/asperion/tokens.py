"""OAuth 2.0 state of the simulated identity host: authorization codes, access tokens, rotating refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.credentials import ASPERION_CLIENT_ID, ASPERION_CLIENT_SECRET, ASPERION_INITIAL_REFRESH_TOKEN

__all__ = ("ACCESS_TOKEN_LIFETIME", "SCOPE", "AuthCode", "TokenError", "TokenStore")

ACCESS_TOKEN_LIFETIME = 3600
CODE_LIFETIME = 300
SCOPE = "api offline_access"


class TokenError(Exception):
    """An OAuth error answer: ``{"error": code}`` with status 400."""

    def __init__(self, code: str, description: str = "") -> None:
        """Create the error.

        Args:
            code: The OAuth error code (``invalid_client``, ``invalid_grant``, …).
            description: A human-readable explanation.
        """
        super().__init__(code)
        self.code = code
        self.description = description


@dataclass(slots=True, frozen=True)
class AuthCode:
    """An issued authorization code."""

    redirect_uri: str
    expires_at: float
    code_challenge: str | None
    code_challenge_method: str


class TokenStore:
    """Issues and checks tokens for the one demo client; refresh tokens rotate (a used one stops working)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        """Start with only the initial refresh token valid.

        Args:
            clock: Returns the current time in seconds.
        """
        self._clock = clock
        self._access: dict[str, float] = {}
        self._refresh: set[str] = {ASPERION_INITIAL_REFRESH_TOKEN}
        self._codes: dict[str, AuthCode] = {}

    def reset(self) -> None:
        """Make the initial refresh token valid again (tokens issued earlier stay valid)."""
        self._refresh.add(ASPERION_INITIAL_REFRESH_TOKEN)

    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        """Authenticate the client.

        Args:
            client_id: The client id sent.
            client_secret: The client secret sent.

        Raises:
            TokenError: ``invalid_client``.
        """
        if client_id != ASPERION_CLIENT_ID or not secrets.compare_digest(client_secret or "", ASPERION_CLIENT_SECRET):
            raise TokenError("invalid_client")

    def issue_code(self, redirect_uri: str, code_challenge: str | None, method: str) -> str:
        """Issue an authorization code for the demo user.

        Args:
            redirect_uri: The redirect URI the code is bound to.
            code_challenge: The PKCE challenge, if the client sent one.
            method: The PKCE method (``S256`` or ``plain``).

        Returns:
            The code.
        """
        code = secrets.token_urlsafe(24)
        self._codes[code] = AuthCode(redirect_uri, self._clock() + CODE_LIFETIME, code_challenge, method)
        return code

    def redeem_code(self, code: str, redirect_uri: str | None, verifier: str | None) -> dict[str, object]:
        """Exchange an authorization code (once) for tokens.

        Args:
            code: The code.
            redirect_uri: The redirect URI sent with the token request (must match when given).
            verifier: The PKCE code verifier.

        Returns:
            The token answer.

        Raises:
            TokenError: ``invalid_grant``.
        """
        issued = self._codes.pop(code, None)
        if issued is None or issued.expires_at < self._clock():
            raise TokenError("invalid_grant", "The authorization code is invalid or has expired.")
        if redirect_uri is not None and redirect_uri != issued.redirect_uri:
            raise TokenError("invalid_grant", "The redirect_uri does not match the authorization request.")
        if issued.code_challenge is not None:
            if not verifier:
                raise TokenError("invalid_grant", "code_verifier is required.")
            if issued.code_challenge_method == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            else:
                expected = verifier
            if not secrets.compare_digest(expected, issued.code_challenge):
                raise TokenError("invalid_grant", "The code_verifier does not match the code_challenge.")
        return self._issue()

    def refresh(self, refresh_token: str) -> dict[str, object]:
        """Exchange a refresh token for new tokens; the used refresh token stops working.

        Args:
            refresh_token: The refresh token.

        Returns:
            The token answer with a new refresh token.

        Raises:
            TokenError: ``invalid_grant`` for an unknown or already used refresh token.
        """
        if refresh_token not in self._refresh:
            raise TokenError("invalid_grant", "The refresh token is invalid or has already been used.")
        self._refresh.discard(refresh_token)
        return self._issue()

    def issue_access_token(self) -> str:
        """An access token for the demo user without the OAuth dance (for tests and benchmarks).

        Returns:
            A valid access token.
        """
        token = "at-" + secrets.token_urlsafe(32)
        self._access[token] = self._clock() + ACCESS_TOKEN_LIFETIME
        return token

    def _issue(self) -> dict[str, object]:
        refresh_token = "rt-" + secrets.token_urlsafe(32)
        self._refresh.add(refresh_token)
        return {
            "access_token": self.issue_access_token(),
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "refresh_token": refresh_token,
            "scope": SCOPE,
        }

    def access_valid(self, token: str) -> bool | None:
        """Check an access token.

        Args:
            token: The bearer token.

        Returns:
            ``True`` when valid, ``False`` when it expired, ``None`` when unknown.
        """
        expires_at = self._access.get(token)
        if expires_at is None:
            return None
        if expires_at <= self._clock():
            del self._access[token]
            return False
        return True
