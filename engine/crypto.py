"""Encryption of connection secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``KOPPEL_SECRET_KEY`` or, when unset, from ``<var>/secret.key``, generated once with mode 0600.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from engine.settings import Settings, get_settings

__all__ = ("SECRET_KEYS", "SecretBox", "get_box", "redact")

SECRET_KEYS = frozenset(
    {
        "consumer_secret",
        "client_secret",
        "refresh_token",
        "access_token",
        "password",
        "secret",
        "token",
        "authorization",
        "webhook_secret",
    }
)


class SecretBox:
    """Encrypts and decrypts JSON objects."""

    def __init__(self, key: str) -> None:
        raw = key.encode()
        try:
            self._fernet = Fernet(raw)
        except ValueError:
            # Any passphrase works: derive a Fernet key from it.
            self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw).digest()))

    def seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        if not token:
            return {}
        try:
            return dict(json.loads(self._fernet.decrypt(token.encode())))
        except InvalidToken as exc:
            raise ValueError("stored credentials cannot be decrypted: was KOPPEL_SECRET_KEY changed?") from exc


def _key_from_file(settings: Settings) -> str:
    path = settings.var_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


@lru_cache(maxsize=4)
def _box(key: str) -> SecretBox:
    return SecretBox(key)


def get_box(settings: Settings | None = None) -> SecretBox:
    """The box for the configured key (generating the key file on first use)."""
    settings = settings or get_settings()
    return _box(settings.secret_key or _key_from_file(settings))


def redact(value: Any, *, extra: frozenset[str] = frozenset()) -> Any:
    """A copy of ``value`` with secret-looking keys replaced by ``"***"`` (for logs and API answers)."""
    keys = SECRET_KEYS | extra
    if isinstance(value, dict):
        return {k: ("***" if str(k).lower() in keys and v else redact(v, extra=extra)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, extra=extra) for v in value]
    return value
