"""Settings read from the environment, with the embedded defaults.

With no environment at all Koppel runs on a SQLite file under ``./var/`` with the worker in the web process.
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and a shared arq queue.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ("DEFAULT_BASE_URL", "Settings", "SmtpSettings", "configure", "get_settings")


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_float(name: str, default: float) -> float:
    value = _env(name)
    return float(value) if value else default


@dataclass(frozen=True)
class SmtpSettings:
    """Where alert e-mail goes (``KOPPEL_SMTP_*``); absent when ``KOPPEL_SMTP_HOST`` is unset."""

    host: str
    port: int = 25
    sender: str = "koppel@localhost"
    user: str = ""
    password: str = ""
    starttls: bool = False
    ssl: bool = False

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        """From ``KOPPEL_SMTP_HOST``, ``_PORT`` (25, or 465 with ``_SSL=1``), ``_FROM``, ``_USER``, ``_PASSWORD``,
        ``_STARTTLS=1``; None without a host."""
        host = _env("KOPPEL_SMTP_HOST")
        if not host:
            return None
        ssl = _env("KOPPEL_SMTP_SSL") == "1"
        return cls(
            host=host,
            port=int(_env("KOPPEL_SMTP_PORT") or (465 if ssl else 25)),
            sender=_env("KOPPEL_SMTP_FROM") or "koppel@localhost",
            user=_env("KOPPEL_SMTP_USER"),
            password=os.environ.get("KOPPEL_SMTP_PASSWORD", ""),
            starttls=_env("KOPPEL_SMTP_STARTTLS") == "1",
            ssl=ssl,
        )


DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Build one with :meth:`from_env`."""

    var_dir: Path
    """Where the embedded database and the generated secret key live (``./var`` unless ``KOPPEL_VAR_DIR``)."""
    database_url: str
    """SQLAlchemy async URL; default ``sqlite+aiosqlite:///<var_dir>/koppel.db``."""
    redis_url: str | None
    """arq's Redis; when unset the worker runs inside the web process on an in-memory queue."""
    secret_key: str | None
    """Key that encrypts connection credentials; generated once into ``var_dir`` when unset."""
    demo: bool = False
    """Mount the sandbox under ``/sandbox`` with demo connections (``KOPPEL_DEMO=1``; ``make run`` sets it)."""
    heartbeat_s: float = 5.0
    """How often a running run touches its heartbeat."""
    stale_after_s: float = 30.0
    """A running run whose heartbeat is older than this is taken to have lost its worker and is resumed."""
    job_timeout_s: float = 6 * 3600
    """arq's limit for one run."""
    poll_delay_s: float = 0.05
    """arq worker poll delay (low: runs start quickly)."""
    admin_email: str | None = None
    admin_password: str | None = None
    base_url: str = DEFAULT_BASE_URL
    """Where browsers and the shop reach Koppel (``KOPPEL_BASE_URL``; ``koppel serve`` defaults it to its address):
    webhook delivery URLs, links in alerts, the demo's sandbox connections."""
    smtp: SmtpSettings | None = None
    """Alert e-mail (``KOPPEL_SMTP_*``); None = no e-mail."""
    extra: dict[str, str] = field(default_factory=dict)
    requeue_after_s: float = 20.0
    """A run queued this long without a job in Redis (flushed, restarted) is enqueued again."""
    trusted_proxy: bool = False
    """Believe a proxy's ``X-Forwarded-Proto: https`` (``KOPPEL_TRUSTED_PROXY=1``): cookies then get the Secure flag."""
    secure_cookies: bool = False
    """Every cookie Secure, whatever the request came over (``KOPPEL_SECURE_COOKIES=1``)."""
    debug: bool = False
    """Litestar's debug mode (``KOPPEL_DEBUG=1``): never in production."""
    webhook_replay_window_s: float = 86400.0
    """How long an identical signed webhook body counts as a replay (``KOPPEL_WEBHOOK_REPLAY_WINDOW_S``)."""

    @classmethod
    def from_env(cls) -> Settings:
        var_dir = Path(_env("KOPPEL_VAR_DIR", "var")).resolve()
        database_url = _env("DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'koppel.db'}"
        if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
            database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
        return cls(
            var_dir=var_dir,
            database_url=database_url,
            redis_url=_env("REDIS_URL") or None,
            secret_key=_env("KOPPEL_SECRET_KEY") or None,
            demo=_env("KOPPEL_DEMO") in {"1", "true", "yes"},
            heartbeat_s=_env_float("KOPPEL_HEARTBEAT_S", 5.0),
            stale_after_s=_env_float("KOPPEL_STALE_AFTER_S", 30.0),
            job_timeout_s=_env_float("KOPPEL_JOB_TIMEOUT_S", 6 * 3600),
            poll_delay_s=_env_float("KOPPEL_POLL_DELAY_S", 0.05),
            admin_email=_env("KOPPEL_ADMIN_EMAIL") or None,
            admin_password=_env("KOPPEL_ADMIN_PASSWORD") or None,
            base_url=(_env("KOPPEL_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            smtp=SmtpSettings.from_env(),
            requeue_after_s=_env_float("KOPPEL_REQUEUE_AFTER_S", 20.0),
            trusted_proxy=_env("KOPPEL_TRUSTED_PROXY") == "1",
            secure_cookies=_env("KOPPEL_SECURE_COOKIES") == "1",
            debug=_env("KOPPEL_DEBUG") == "1",
            webhook_replay_window_s=max(0.0, _env_float("KOPPEL_WEBHOOK_REPLAY_WINDOW_S", 86400.0)),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_configured: list[Settings] = []


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings: those the composition root configured, else from the environment (tests call
    ``get_settings.cache_clear()`` after changing the environment)."""
    return _configured[-1] if _configured else Settings.from_env()


def configure(settings: Settings) -> Settings:
    """Make ``settings`` the process-wide settings (``koppel serve`` does, with its own address as the base URL)."""
    _configured[:] = [settings]
    get_settings.cache_clear()
    return settings
