"""The HTTP base of every connector: one keep-alive client, a concurrency limit, retries and readable errors.

:class:`ApiClient` wraps one :class:`httpx.AsyncClient` per connection. Every request passes the connection's
adaptive limit (:mod:`nodes.connectors.limiter`: 8 in flight to start, more while answers stay quick, fewer for a
while after a 429, 503, 504 or a timeout), and failures that are worth another try are retried with exponential
backoff and full jitter, honouring ``Retry-After`` (seconds or an HTTP date) exactly. While a request waits to be
retried it holds no request slot, and the record it works for lends its place among a run's records in flight
(:func:`nodes.connectors.limiter.away`):

- 429 is retried for every method (the server did not process the request);
- 503 is retried for idempotent methods, and for POST only when it carries ``Retry-After``;
- 500, 502, 504, read timeouts and dropped connections are retried for idempotent methods only (a POST may have
  reached the server, so retrying could create a duplicate);
- connect errors and pool timeouts are retried for every method (the request never left).

Attempts are capped by :attr:`RetryPolicy.max_attempts` and the summed waiting by :attr:`RetryPolicy.max_total_wait`.
Sleep, clocks and randomness are injectable so tests do not really wait.

Errors are :class:`ApiError` subclasses whose message a user can read. Secrets never reach a message or a log:
:func:`redact` scrubs credentials from text, and each client also scrubs the secret values it was given.
"""

from __future__ import annotations

import abc
import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import urlsplit

import httpx

from nodes import jsoncodec
from nodes.connectors.limiter import NEUTRAL, OK, OVERLOADED, AdaptiveLimit, away
from nodes.connectors.wire import install
from nodes.texts import shown

__all__ = (
    "IDEMPOTENT_METHODS",
    "ApiClient",
    "ApiError",
    "AppClient",
    "AuthError",
    "ConnectionTest",
    "NotFound",
    "Option",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Unreachable",
    "ValidationFailed",
    "is_loopback",
    "plain_http_status",
    "redact",
)

log = logging.getLogger("koppel.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRY_IDEMPOTENT = frozenset({500, 502, 503, 504})
_BODY_SNIPPET = 300


class Option(TypedDict):
    """One choice of a select box in the canvas."""

    value: str
    label: str


@dataclass(frozen=True)
class ConnectionTest:
    """The answer of a connection test.

    Attributes:
        ok: the connection works for reading.
        message: what a person should know, in plain words (never a secret).
        can_write: whether the credentials may write; None when it cannot be told without writing.
        status: the HTTP status the application answered the test with (0: no answer; None: not asked).
    """

    ok: bool
    message: str
    can_write: bool | None = None
    status: int | None = None


# --- errors ---------------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An application answered with an error, or could not be reached.

    Attributes:
        status: the HTTP status (0 when no answer came).
        message: a readable explanation (redacted).
        body: the decoded error body (JSON when possible, else a text snippet), for the log.
        field_errors: per-field validation messages when the application gave them.
        retry_after: seconds the application asked to wait, if it said so.
        transient: the failure may well pass by itself (overload, outage, lost connection): a later run retries
            the record automatically (engine.retryset). Refusals and credential problems are not transient.
    """

    transient: bool = False

    def __init__(
        self,
        status: int,
        message: str,
        body: Any = None,
        *,
        field_errors: Mapping[str, list[str]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body
        self.field_errors: dict[str, list[str]] = dict(field_errors or {})
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class AuthError(ApiError):
    """401/403: the credentials are wrong, expired or lack a permission."""


class NotFound(ApiError):
    """404: the object or route does not exist."""


class ValidationFailed(ApiError):
    """400/409/422: the application refused the data; :attr:`field_errors` says why per field."""


class RateLimited(ApiError):
    """429 after all retries: the application keeps asking to slow down."""

    transient = True


class ServerError(ApiError):
    """5xx after all retries."""

    transient = True


class Unreachable(ApiError):
    """No answer: DNS failure, connection refused, TLS failure or timeout."""

    transient = True


def error_class(status: int) -> type[ApiError]:
    """The :class:`ApiError` subclass for an HTTP status."""
    if status in (401, 403):
        return AuthError
    if status in (404, 410):
        return NotFound
    if status in (400, 409, 413, 422):
        return ValidationFailed
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return ApiError


def plain_http_status(app_label: str, status: int) -> str:
    """A plain sentence for an HTTP error status, without the application's own words."""
    if 300 <= status < 400:
        return f"{app_label} redirected the request elsewhere (HTTP {status}): use the final address."
    if status == 0:
        return f"{app_label} did not answer."
    if status in (401, 403):
        return f"{app_label} refused the credentials (HTTP {status})."
    if status in (404, 410):
        return f"{app_label} has no such address (HTTP {status}): check the address."
    if status == 429:
        return f"{app_label} asks to slow down (HTTP 429); try again in a minute."
    if status >= 500:
        return f"{app_label} had a server error (HTTP {status}); try again later."
    return f"{app_label} answered with an unexpected status (HTTP {status})."


# --- redaction ------------------------------------------------------------------------------------------------

_SECRET_KEYS = (
    r"consumer_secret|consumer_key|client_secret|refresh_token|access_token|id_token|password|secret|token|"
    r"api_key|apikey|oauth_signature"
)
_KV_PATTERN = re.compile(rf"(?i)([\"']?\b(?:{_SECRET_KEYS})\b[\"']?\s*[=:]\s*[\"']?)([^\"'&\s,;}}]+)")
_SECRET_KEY = re.compile(rf"(?i)(?:{_SECRET_KEYS}|authorization)")
_AUTH_PATTERN = re.compile(r"(?i)\b(authorization\s*[:=]\s*[\"']?)(\w+\s+)?[^\s\"',}]+")
_SCHEME_PATTERN = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_USERINFO_PATTERN = re.compile(r"(?i)(https?://)[^/@\s]+@")
REDACTED = "***"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove credentials from ``text``: known secret values, ``key=value`` pairs, auth headers, URL user info.

    Args:
        text: any message, URL or body snippet.
        secrets: exact secret values to scrub wherever they appear.

    Returns:
        The text with every secret replaced by ``***``.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _AUTH_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}{REDACTED}", text)
    text = _SCHEME_PATTERN.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _KV_PATTERN.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _USERINFO_PATTERN.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (plain HTTP is acceptable there)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in {"localhost", "::1"} or host.startswith("127.") or host.endswith(".localhost")


# --- retry policy ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    Attributes:
        max_attempts: tries in total, the first included.
        base_delay: the backoff's first ceiling in seconds (doubles per attempt; full jitter picks 0..ceiling).
        max_delay: the ceiling of one backoff wait (a ``Retry-After`` is limited only by ``max_total_wait``).
        max_total_wait: the most seconds spent waiting across all retries of one request.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_wait: float = 120.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass
class _Attempts:
    policy: RetryPolicy
    number: int = 0
    waited: float = 0.0


# --- the client -----------------------------------------------------------------------------------------------


_OVERLOAD_STATUSES = frozenset({429, 503, 504})
"""Answers that say the application is overloaded: the connection's adaptive limit backs off on them."""


def _unlinked(response: httpx.Response) -> httpx.Response:
    """``response`` without its link back to itself. httpx's stream keeps the response it belongs to, so a response
    (with its request and both bodies) was freed only when the garbage collector came by — hundreds at a time in a
    run, and the ones a young collection found still in use only at the next full collection. Once the body is read
    the stream is done: it is replaced by the body itself, and the response goes as soon as nobody holds it."""
    if response.is_closed:
        response.stream = httpx.ByteStream(response.content)
    return response


class ApiClient:
    """A connection to one application: keep-alive HTTP, concurrency limit, retries, readable errors.

    Args:
        base_url: the API's base URL; request paths are relative to it (absolute URLs are used as given).
        app_label: the application's name in messages ("WooCommerce").
        concurrency: requests in flight at most for this connection, fixed as the ceiling of the adaptive limit
            (which lowers it after overload answers and grows back up to it); None = start at 8 and grow up to
            ``max_concurrency`` while the application answers quickly.
        max_concurrency: the ceiling of the adaptive limit when ``concurrency`` is not given.
        timeout: read/write timeout in seconds.
        connect_timeout: connect timeout in seconds.
        retry: the :class:`RetryPolicy`.
        headers: headers sent with every request.
        auth: an :class:`httpx.Auth` applied to every request of the API.
        secrets: values to scrub from every message.
        transport: an httpx transport (tests pass :class:`httpx.MockTransport`).
        sleep: the awaitable sleep used between retries.
        clock: wall-clock seconds (for ``Retry-After`` dates and token expiry).
        rand: a 0..1 random source for jitter.
        verify: TLS verification (keep it on).
    """

    app_label = "The application"

    def __init__(
        self,
        base_url: str,
        *,
        app_label: str | None = None,
        concurrency: int | None = None,
        max_concurrency: int = 32,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        secrets: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        verify: bool = True,
    ) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        start = concurrency if concurrency is not None else min(8, max_concurrency)
        ceiling = concurrency if concurrency is not None else max(start, max_concurrency)
        self.base_url = base_url.rstrip("/")
        if app_label:
            self.app_label = app_label
        self.retry = retry or RetryPolicy()
        self.concurrency = start
        self.limiter = AdaptiveLimit(start, maximum=ceiling, label=self.app_label)
        self._secrets = [s for s in secrets if s]
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        limits = httpx.Limits(max_connections=ceiling, max_keepalive_connections=ceiling, keepalive_expiry=30)
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Accept": "application/json", "User-Agent": "Koppel/0.1", **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=connect_timeout, pool=max(timeout, 60.0)),
            limits=limits,
            transport=transport,
            verify=verify,
            http2=False,
            follow_redirects=False,
        )
        install(self.http, limits)  # Koppel's own keep-alive pool and HTTP/1.1 (nodes.connectors.wire)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the keep-alive connections."""
        await self.http.aclose()

    def redact(self, text: str) -> str:
        """``text`` without this client's secrets or any credential-looking value."""
        return redact(text, self._secrets)

    # -- requests -----------------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """Send a request with retries; return the successful (2xx) response (redirects are errors).

        Args:
            method: HTTP method.
            path: path relative to the base URL, or an absolute URL.
            params: query parameters.
            json: JSON body.
            data: form body.
            headers: extra headers.
            auth: overrides the client's auth for this request.
            retry: overrides the client's retry policy for this request (e.g. a quick connection test).

        Returns:
            The response.

        Raises:
            ApiError: a subclass describing the failure after the retries allowed.
        """
        method = method.upper()
        state = _Attempts(retry or self.retry)
        while True:
            state.number += 1
            try:
                async with self.limiter.slot() as slot:
                    try:
                        response = await self._send(method, path, params, json, data, headers, auth)
                    except httpx.TransportError:
                        slot.outcome = OVERLOADED  # a timeout, a dropped or refused connection
                        raise
                    status = response.status_code
                    # Too many requests, or a server that says it cannot cope now, asks for fewer at once; a plain
                    # server error (500, 502) is the application's fault, not the load's: no reason to slow down.
                    slot.outcome = OVERLOADED if status in _OVERLOAD_STATUSES else NEUTRAL if status >= 500 else OK
                    if slot.outcome == OVERLOADED and "Retry-After" in response.headers:
                        slot.judged_for = parse_retry_after(response.headers["Retry-After"], self._clock()) or 0.0
            except httpx.DecodingError as exc:
                raise ApiError(
                    0, self.redact(f"{self.app_label} sent a response that cannot be decoded: {exc}")
                ) from exc
            except httpx.TransportError as exc:
                error = self._transport_error(method, path, exc)
                if not self._may_retry_transport(method, exc):
                    raise error from exc
                await self._wait_or_raise(state, None, error, method, path)
                continue
            if response.status_code < 300:
                return response
            if response.status_code < 400:
                raise self._redirected(method, path, response)
            error = self.error_from_response(method, path, response)
            if not self._may_retry_status(method, response.status_code, error.retry_after):
                raise error
            await self._wait_or_raise(state, error.retry_after, error, method, path)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        auth: httpx.Auth | None,
    ) -> httpx.Response:
        extra = await self.request_headers()
        if headers:
            extra.update(headers)
        # The absolute URL, joined as httpx joins it with ``base_url`` (which would copy and re-parse it each time).
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"
        content: bytes | None = None
        if json is not None:  # encoded here, not by httpx: its json.dumps refuses Decimal (a mapped number())
            content = jsoncodec.dumps_body(json)
            extra.setdefault("Content-Type", "application/json")
        request = self.http.build_request(method, url, params=params, content=content, data=data, headers=extra)
        response = await (self.http.send(request, auth=auth) if auth is not None else self.http.send(request))
        return _unlinked(response)

    async def request_headers(self) -> dict[str, str]:
        """Headers to add to each attempt (subclasses add auth that may change between attempts)."""
        return {}

    @staticmethod
    def _may_retry_transport(method: str, exc: httpx.TransportError) -> bool:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return True  # the request never left: safe for every method
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.ProxyError):
            return False
        return method in IDEMPOTENT_METHODS

    @staticmethod
    def _may_retry_status(method: str, status: int, retry_after: float | None) -> bool:
        if status == 429:
            return True
        if status == 503 and retry_after is not None:
            return True
        return status in _RETRY_IDEMPOTENT and method in IDEMPOTENT_METHODS

    async def _wait_or_raise(
        self, state: _Attempts, retry_after: float | None, error: ApiError, method: str, path: str
    ) -> None:
        policy = state.policy
        if state.number >= policy.max_attempts:
            raise self._gave_up(error, state)
        if retry_after is not None:
            delay = retry_after  # the server knows best; only the total budget limits it
        else:
            ceiling = min(policy.max_delay, policy.base_delay * (2 ** (state.number - 1)))
            delay = self._rand() * ceiling
        if state.waited + delay > policy.max_total_wait:
            left = max(0.0, policy.max_total_wait - state.waited)
            why = (
                f"asked to wait {delay:.0f} s, more than the {left:.0f} s left to wait"
                if retry_after is not None
                else f"waiting more would exceed {policy.max_total_wait:.0f} s"
            )
            raise self._gave_up(error, state, why)
        state.waited += delay
        log.info(
            "%s %s failed (%s), attempt %d of %d; retrying in %.2f s",
            method,
            self.redact(self._display_url(path)),
            error.status or type(error).__name__,
            state.number,
            policy.max_attempts,
            delay,
        )
        with away():  # a record that only waits lends its place among the run's records in flight
            await self._sleep(delay)

    def _redirected(self, method: str, path: str, response: httpx.Response) -> ApiError:
        # Redirects are not followed: credentials must not travel to an address nobody configured.
        location = response.headers.get("Location", "")
        where = f" to {self.redact(location.split('?', 1)[0])}" if location else ""
        return ApiError(
            response.status_code,
            self.redact(
                f"{self.app_label} redirected the request{where} ({method} {self._display_url(path)}): "
                "use the final address (often https:// or with/without www)."
            ),
            None,
        )

    def _gave_up(self, error: ApiError, state: _Attempts, why: str = "") -> ApiError:
        if state.number <= 1 and not why:
            return error
        attempts = f"{state.number} attempt{'s' if state.number > 1 else ''}"
        tail = f" (gave up after {attempts}{': ' + why if why else ''})"
        error.message = error.message + tail
        error.args = (error.message,)
        return error

    # -- errors -------------------------------------------------------------------------------------------------

    def _plain(self, exc: ApiError) -> str:
        """What a connection test may say of ``exc``: Koppel's own words only, never the application's body."""
        if exc.body is None and exc.status < 400:  # built here (a redirect, no answer): no remote text in it
            return exc.message
        return plain_http_status(self.app_label, exc.status)

    def _display_url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            return f"{parts.scheme}://{parts.netloc}{parts.path}"
        return f"{self.base_url}/{path.lstrip('/')}"

    def _transport_error(self, method: str, path: str, exc: httpx.TransportError) -> ApiError:
        url = self._display_url(path)
        host = urlsplit(url).netloc or url
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            why = "the connection timed out"
        elif isinstance(exc, httpx.TimeoutException):
            why = "no answer in time"
        elif isinstance(exc, httpx.ConnectError):
            text = str(exc).lower()
            if "name or service not known" in text or "nodename" in text or "getaddrinfo" in text:
                why = "the host name could not be resolved"
            elif "refused" in text:
                why = "the connection was refused"
            elif "ssl" in text or "certificate" in text:
                why = f"the TLS handshake failed ({exc})"
            else:
                why = f"the connection failed ({exc or type(exc).__name__})"
        else:
            why = f"the connection broke off ({type(exc).__name__})"
        message = self.redact(f"{self.app_label} at {host} cannot be reached: {why} ({method} {url}).")
        return Unreachable(0, message)

    def error_from_response(self, method: str, path: str, response: httpx.Response) -> ApiError:
        """Turn an error response into an :class:`ApiError` with a readable, redacted message."""
        status = response.status_code
        body = self._decode(response)
        detail, field_errors = self.parse_error_body(body)
        if not detail:
            detail = response.reason_phrase or "error"
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        parts = [f"{self.app_label} answered {status}: {detail}"]
        for name, messages in field_errors.items():
            parts.append(f"{name}: {'; '.join(messages)}")
        message = self.redact(" — ".join(parts) + f" ({method} {self._display_url(path)})")
        safe_body = self._redact_body(body)
        safe_fields = {k: [self.redact(m) for m in v] for k, v in field_errors.items()}
        cls = error_class(status)
        return cls(status, message, safe_body, field_errors=safe_fields, retry_after=retry_after)

    def parse_error_body(self, body: Any) -> tuple[str, dict[str, list[str]]]:
        """The message and field errors of an error body (subclasses know their application's shape)."""
        if isinstance(body, dict):
            for key in ("message", "detail", "title", "error_description", "error"):
                value = body.get(key)
                if isinstance(value, str) and value:
                    return value, {}
        if isinstance(body, str):
            return body[:_BODY_SNIPPET], {}
        return "", {}

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            text = response.text.strip()
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))[:_BODY_SNIPPET] if text else None

    def _redact_body(self, body: Any) -> Any:
        if isinstance(body, str):
            return self.redact(body)
        if isinstance(body, dict):
            return {k: REDACTED if _SECRET_KEY.fullmatch(str(k)) else self._redact_body(v) for k, v in body.items()}
        if isinstance(body, list):
            return [self._redact_body(v) for v in body]
        return body

    # -- JSON helpers -------------------------------------------------------------------------------------------

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request` and decode the JSON answer (None for an empty body).

        Raises:
            ApiError: on failure, or when a 2xx body is not JSON.
        """
        response = await self.request(method, path, **kwargs)
        return self.json_of(method, path, response)

    def json_of(self, method: str, path: str, response: httpx.Response) -> Any:
        """The JSON body of a successful response; an :class:`ApiError` when it is not JSON."""
        if not response.content:
            return None
        try:
            try:
                return jsoncodec.loads(response.content)
            except ValueError:  # perhaps not UTF-8: decode the text by the response's charset
                return jsoncodec.loads(response.text)
        except ValueError as exc:
            snippet = self._decode(response)
            raise ApiError(
                response.status_code,
                self.redact(
                    f"{self.app_label} answered with something that is not JSON ({method} "
                    f"{self._display_url(path)}): {shown(str(snippet)[:120], 122)}"
                ),
                snippet,
            ) from exc


class AppClient(ApiClient, abc.ABC):
    """The client a connector builds: an :class:`ApiClient` that also answers the connector's option lists and its
    connection test (the connector asks its own client for both)."""

    async def options(self, kind: str) -> list[Option]:
        """The choices of the application's live option list ``kind``.

        Raises:
            KeyError: the application offers no such list (an application offers none unless its client says so).
        """
        raise KeyError(f"unknown {self.app_label} option list {kind!r}")

    @abc.abstractmethod
    async def test(self) -> ConnectionTest:
        """Whether the connection works, in plain words (never a remote body or a secret)."""
