"""The database schema: connections, flows and their versions, runs, per-record logs, cursors, idempotency.

Every table is created by Alembic (``migrations/``); this module is the single description of it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

__all__ = (
    "ApiToken",
    "AuditEvent",
    "Base",
    "Connection",
    "CredentialState",
    "Cursor",
    "FiredSlot",
    "Flow",
    "FlowVersion",
    "IdempotencyEntry",
    "Intent",
    "Invite",
    "LogEntry",
    "LoginThrottle",
    "RetryRecord",
    "Role",
    "Run",
    "RunStatus",
    "TargetTrust",
    "User",
    "WebhookDelivery",
    "new_id",
    "utcnow",
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A new random identifier (32 hex characters)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Now, in UTC, without microseconds noise in the tests' way."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite stores no zone: it is added back on reading)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, :meth:`process_bind_param` and the text SQLite's DATETIME stores
        (``2026-01-31 23:59:59.000001``) in one step: the two took a tenth of the CPU of a run's log writes."""
        inner = super().bind_processor(dialect)
        if dialect.name != "sqlite" or inner is None:
            return inner

        def process(value: Any) -> Any:
            if not isinstance(value, datetime):
                return inner(value)  # None, or what SQLite's DATETIME makes of (or refuses in) anything else
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class RunStatus:
    """Values of ``Run.status``."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINISHED = frozenset({SUCCEEDED, PARTIAL, FAILED, CANCELLED})


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8), default="en")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    role: Mapped[str] = mapped_column(String(20), default="viewer", server_default="owner")
    """``owner``, ``editor`` or ``viewer`` (see :class:`Role`); accounts made before roles existed are owners."""
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Sessions carry this number; logging out or changing the password raises it, ending every older session."""


class ApiToken(Base):
    """A personal API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    role: Mapped[str | None] = mapped_column(String(20), default=None)
    """What the token may do (never more than its user's role); None: as much as its user."""
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class Connection(Base):
    """Credentials for one application account (a WooCommerce store, an Asperion administration).

    ``settings`` holds what may be shown (url, tenant id, client id); ``secrets`` is the encrypted JSON of what
    must never be shown (consumer secret, client secret, tokens) — see :mod:`engine.crypto`.
    """

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    app: Mapped[str] = mapped_column(String(50))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets: Mapped[str] = mapped_column(Text, default="")
    last_test_at: Mapped[datetime | None] = mapped_column(default=None)
    last_test_ok: Mapped[bool | None] = mapped_column(default=None)
    last_test_message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Flow(Base):
    """A flow; its graph lives in immutable :class:`FlowVersion` rows, the newest one being current."""

    __tablename__ = "flows"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str | None] = mapped_column(String(100), default=None)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    trigger: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"type": "manual"|"interval"|"cron"|"webhook", "every_s": …, "cron": …, "catch_up_cron": …}``."""
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Run settings: ``max_parallel_runs``, ``retention_days``, ``run_retention_days``, ``privacy``, ``alerts``."""
    webhook_secret: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[FlowVersion]] = relationship(
        back_populates="flow", cascade="all, delete-orphan", passive_deletes=True, order_by="FlowVersion.number"
    )


class FlowVersion(Base):
    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("flow_id", "number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(320), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    flow: Mapped[Flow] = relationship(back_populates="versions")

    @classmethod
    def current_of(cls, flow: Flow) -> ColumnElement[bool]:
        """The condition that picks ``flow``'s current version (``select(FlowVersion).where(...)``)."""
        return and_(cls.flow_id == flow.id, cls.number == flow.current_version)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_flow_created", "flow_id", "created_at"),
        Index("ix_runs_created", "created_at"),
        Index("ix_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    flow_id: Mapped[str | None] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), default=None)
    version_id: Mapped[str | None] = mapped_column(ForeignKey("flow_versions.id", ondelete="SET NULL"), default=None)
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The flow document the run executes (a copy: runs of a connections-file flow have no stored flow)."""
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.QUEUED)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``dry_run``, ``limit``, ``record_ids``, ``retry_of``, ``modified_after``/``modified_before``, ``connections``."""
    read_count: Mapped[int] = mapped_column(Integer, default=0)
    ok_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    waiting_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    expected_count: Mapped[int | None] = mapped_column(Integer, default=None)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    created_by: Mapped[str | None] = mapped_column(String(320), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)

    def counts(self) -> dict[str, int]:
        return {
            "read": self.read_count,
            "ok": self.ok_count,
            "skipped": self.skipped_count,
            "waiting": self.waiting_count,
            "failed": self.failed_count,
        }


class LogEntry(Base):
    """What happened to one record at one node. ``status``: ok, skipped, waiting, failed (or info)."""

    __tablename__ = "log_entries"
    __table_args__ = (
        Index("ix_log_run_id", "run_id", "id"),
        Index("ix_log_run_status", "run_id", "status", "id"),
        Index("ix_log_run_node", "run_id", "node_id", "id"),
        Index("ix_log_run_key", "run_id", "record_key"),
        Index("ix_log_flow_status", "flow_id", "status", "id"),
        Index("ix_log_created", "created_at"),
        Index("ix_log_run_record", "run_id", "record_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    flow_id: Mapped[str | None] = mapped_column(String(32), default=None)
    node_id: Mapped[str] = mapped_column(String(100))
    record_key: Mapped[str] = mapped_column(String(200), default="")
    source_id: Mapped[str] = mapped_column(String(200), default="")
    record_id: Mapped[str | None] = mapped_column(String(200), default=None)
    """The source id of the record as read, which this entry is part of (a record derived on the way, such as an
    order's refunds, has a source id of its own): the run log lists one row per record read."""
    status: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """Capped, redacted snapshots: ``input``, ``output``, ``request``, ``response``, ``missing`` (needs mapping)."""
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    """A waiting or failed entry that a later run delivered (keeps the inbox to what still needs attention)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cursor(Base):
    """Incremental sync position of one source node of one flow (e.g. the newest ``date_modified_gmt`` seen)."""

    __tablename__ = "cursors"

    flow_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    """Bare stamp, or ``{"at", "seen"}`` JSON whose ``seen`` ids grow with the records changed near the stamp."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdempotencyEntry(Base):
    """Source record → target record, per flow and target node: the reason a record is delivered once."""

    __tablename__ = "idempotency"

    flow_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fingerprint: Mapped[str | None] = mapped_column(Text, default=None)
    """What the target booked (JSON: totals, VAT per code, lines, debtor, currency), to tell a later change apart."""


class CredentialState(Base):
    """Rotating credentials (OAuth access and refresh tokens), encrypted, keyed by connection.

    Key: ``conn:<connection id>`` for stored connections, ``file:<name>:<client id>`` for a connections file.
    """

    __tablename__ = "credential_state"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    secrets: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# ==== Automation: webhook deliveries and fired schedule/alert slots (issue 6, "Always up to date") ============


class WebhookDelivery(Base):
    """A verified WooCommerce webhook delivery for a flow: replay guard and the queue of records to run.

    ``status``: ``pending`` (waiting for the flow to be free), ``queued`` (a run took it: ``run_id``), ``ignored``
    (nothing to run: a deletion, or the flow is not active). ``delivery_id`` is WooCommerce's
    ``X-WC-Webhook-Delivery-ID``; a second delivery with the same id is a replay and is refused.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("flow_id", "delivery_id"),
        Index("uq_webhook_deliveries_flow_body", "flow_id", "body_hash", unique=True),
        Index("ix_webhook_deliveries_flow_status", "flow_id", "status"),
        Index("ix_webhook_deliveries_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(60), default="")
    source_id: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    body_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    """SHA-256 of topic and body: the same signed body again within the replay window is refused too (unique per
    flow; cleared once the window has passed, so an identical later delivery is accepted)."""


class FiredSlot(Base):
    """One time slot of a flow's schedule, catch-up or alert digest that has fired (the primary key makes it once).

    ``key``: ``<kind>:<flow id>:<slot ISO time>``; a second scheduler inserting the same key fails, so a slot can
    never start two runs or send two digests, whatever the number of workers.
    """

    __tablename__ = "fired_slots"
    __table_args__ = (Index("ix_fired_slots_flow_kind", "flow_id", "kind", "slot_at"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    flow_id: Mapped[str | None] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), default=None)
    kind: Mapped[str] = mapped_column(String(20))
    slot_at: Mapped[datetime] = mapped_column()
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreatedRecord(Base):
    """A record Koppel created in an application, and the source record it came from (the echo guard).

    A source that reads a record listed here for its own application and connection skips it: it is Koppel's own
    writing coming back, not new input ("came from WooCommerce order 263 via flow …").
    """

    __tablename__ = "created_records"

    app: Mapped[str] = mapped_column(String(40), primary_key=True)
    """The application the record lives in (``woocommerce``, ``asperion``)."""
    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    """Which store or administration (the connection's address and tenant), so two administrations never mix."""
    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    """The record as that application's source names it (``salesorder:5``, ``order:1234``)."""
    source_app: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(200))
    source_key: Mapped[str] = mapped_column(String(200), default="")
    """What a person calls the source record (the order number)."""
    flow_key: Mapped[str] = mapped_column(String(200))
    flow_name: Mapped[str] = mapped_column(String(200), default="")
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ==== Exactly-once: delivery intents and trusted targets (issues 11 and 14) =====================================


class Intent(Base):
    """A record a run is about to deliver to a target: written (one write per page) before any of the page's
    records is sent, deleted with the record's outcome. A note still there when a run reads the record again means
    a delivery may have been made that the idempotency map does not know: the target is asked before sending."""

    __tablename__ = "intents"

    flow_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ==== Automatic recovery: records that failed on a transient error, retried by later runs (issue 11) ==========


class RetryRecord(Base):
    """A record of a flow's source that failed on a transient error (5xx, timeout, dropped connection, 429) and
    will be read again by id by a later run once ``next_at`` has passed (:mod:`engine.retryset`).

    Independent of the source's cursor, which moves on. After the flow's allowed attempts the row is removed and
    the record's last failed log entry stays in the inbox with its reason.
    """

    __tablename__ = "retry_records"
    __table_args__ = (Index("ix_retry_records_due", "flow_key", "next_at"),)

    flow_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    """The source node that reads the record again."""
    source_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    record_key: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    """Failed attempts so far (the first run's included)."""
    next_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TargetTrust(Base):
    """A flow's target whose deliveries this database knows completely (per flow key and target node).

    Until it exists the engine asks the application about every record before sending (the application may hold
    bookings made before this database: another installation, an import). It is written when the target says it
    holds nothing yet, or when a complete run of the flow has checked every record it read.

    The trust holds only together with :attr:`mark`, the target application's newest record as this database last
    knew it: every run compares it with the application's newest record first and withdraws the trust when they
    differ. A database restored from a backup carries the mark of the backup's time, while the deliveries made since
    then moved the application's: it asks about every record again instead of booking them twice.
    """

    __tablename__ = "target_trust"

    flow_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    reason: Mapped[str] = mapped_column(String(20), default="")
    """``empty`` (the application held nothing) or ``checked`` (a complete run asked about every record)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    mark: Mapped[str | None] = mapped_column(String(100), default=None)
    """The application's newest record (:meth:`nodes.base.TargetNode.high_water`) when this database last knew every
    delivery up to it ("" = it held none); None: not known, the trust is withdrawn at the next run."""


# ==== Users, roles, invitations, log-in throttling and the audit trail (issue 11, "Security and users") =========


class Role:
    """Values of ``User.role`` and ``ApiToken.role``, weakest first: a viewer reads, an editor changes flows and
    runs, an owner also manages users and connections and erases personal data."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"
    ORDER = (VIEWER, EDITOR, OWNER)

    @classmethod
    def rank(cls, role: str | None) -> int:
        return cls.ORDER.index(role) if role in cls.ORDER else -1

    @classmethod
    def lowest(cls, *roles: str | None) -> str:
        return min((r for r in roles if r in cls.ORDER), key=cls.rank, default=cls.VIEWER)


class Invite(Base):
    """An owner's invitation: whoever opens the link (only its SHA-256 is stored) sets a password and joins."""

    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(320), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginThrottle(Base):
    """Failed log-ins per key (``account:<e-mail>`` or ``address:<ip>``): after a few, the next try must wait."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(default=None)


class AuditEvent(Base):
    """Who changed what: a flow, a connection, a user (written after every successful change)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(320), default=None)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(Text, default="")
