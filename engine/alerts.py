"""Alerts: problems of a flow grouped into one digest per flow and period, sent by e-mail and/or a webhook.

Per flow, ``settings["alerts"]``::

    {"enabled": true, "emails": ["ops@shop.nl"], "webhook_url": "https://hooks.example/koppel",
     "period_minutes": 60,
     "run_failed": true, "records_failed": true, "waiting": true, "credentials": true,
     "heartbeat_hours": 24, "lag_minutes": 120}

Rules: a run failed; records failed; records wait for a mapping; no successful run for longer than
``heartbeat_hours``; a paid order not delivered (invoiced) ``lag_minutes`` after payment; a connection's credentials
rejected. The first problem is reported at the next evaluation (every minute), then at most one digest per period:
the digest slot is claimed in ``fired_slots`` before sending, so two workers never send it twice.

E-mail goes through the SMTP settings (:attr:`engine.settings.Settings.smtp`, from ``KOPPEL_SMTP_HOST``
(unset = no e-mail), ``KOPPEL_SMTP_PORT`` (25), ``KOPPEL_SMTP_FROM``, ``KOPPEL_SMTP_USER``/``KOPPEL_SMTP_PASSWORD``,
``KOPPEL_SMTP_STARTTLS=1`` or ``KOPPEL_SMTP_SSL=1``). The webhook channel POSTs the digest as JSON.
"""

from __future__ import annotations

import asyncio
import logging
import math
import smtplib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from engine.connections import open_client
from engine.models import Connection, FiredSlot, Flow, FlowVersion, IdempotencyEntry, LogEntry, Run, RunStatus, utcnow
from engine.settings import SmtpSettings, get_settings
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.mail import deliver
from nodes.texts import shown

if TYPE_CHECKING:
    from engine.db import Database

__all__ = (
    "AlertRules",
    "Digest",
    "Finding",
    "SmtpConfig",
    "evaluate",
    "run_alerts",
    "send_digest",
)

log = logging.getLogger("koppel.alerts")

SAMPLES = 10
"""Record keys / messages listed per finding; the digest says how many more there are."""


@dataclass
class AlertRules:
    enabled: bool = False
    emails: list[str] = field(default_factory=list)
    webhook_url: str = ""
    period_minutes: int = 60
    run_failed: bool = True
    records_failed: bool = True
    waiting: bool = True
    credentials: bool = True
    heartbeat_hours: float = 0.0
    lag_minutes: float = 0.0

    @classmethod
    def of(cls, settings: dict[str, Any] | None) -> AlertRules:
        raw = dict((settings or {}).get("alerts") or {})
        emails = raw.get("emails") or []
        if isinstance(emails, str):
            emails = [e.strip() for e in emails.replace(";", ",").split(",")]
        return cls(
            enabled=bool(raw.get("enabled", bool(emails or raw.get("webhook_url")))),
            emails=[str(e).strip() for e in emails if str(e).strip()],
            webhook_url=str(raw.get("webhook_url") or "").strip(),
            period_minutes=max(1, int(raw.get("period_minutes") or 60)),
            run_failed=bool(raw.get("run_failed", True)),
            records_failed=bool(raw.get("records_failed", True)),
            waiting=bool(raw.get("waiting", True)),
            credentials=bool(raw.get("credentials", True)),
            heartbeat_hours=float(raw.get("heartbeat_hours") or 0),
            lag_minutes=float(raw.get("lag_minutes") or 0),
        )

    @property
    def has_channel(self) -> bool:
        return bool(self.emails or self.webhook_url)


@dataclass
class Finding:
    rule: str
    title: str
    count: int
    lines: list[str] = field(default_factory=list)


@dataclass
class Digest:
    flow_id: str
    flow_name: str
    since: datetime
    until: datetime
    findings: list[Finding]

    @property
    def subject(self) -> str:
        what = ", ".join(f.title for f in self.findings[:3])
        return f"Koppel: {self.flow_name}: {what}"[:200]

    def text(self) -> str:
        out = [
            f"Flow {shown(self.flow_name)} needs attention"
            f" ({self.since:%Y-%m-%d %H:%M} - {self.until:%Y-%m-%d %H:%M} UTC).",
            "",
        ]
        for finding in self.findings:
            out.append(f"* {finding.title} ({finding.count})")
            out.extend(f"    - {line}" for line in finding.lines)
            out.append("")
        out.append(f"Open the flow: {_base_url()}/flows/{self.flow_id}")
        return "\n".join(out)

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": {"id": self.flow_id, "name": self.flow_name},
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "subject": self.subject,
            "findings": [asdict(f) for f in self.findings],
            "text": self.text(),
        }


def _base_url() -> str:
    return get_settings().base_url.rstrip("/")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _more(lines: list[str], total: int) -> list[str]:
    if total > len(lines):
        lines.append(f"... and {total - len(lines)} more")
    return lines


# ---- rules ------------------------------------------------------------------------------------------------------


async def _failed_runs(db: Database, flow: Flow, since: datetime, until: datetime) -> Finding | None:
    async with db.session() as session:
        runs = (
            await session.execute(
                select(Run.id, Run.error, Run.finished_at)
                .where(
                    Run.flow_id == flow.id,
                    Run.status == RunStatus.FAILED,
                    Run.finished_at > since,
                    Run.finished_at <= until,
                )
                .order_by(Run.finished_at.desc())
            )
        ).all()
    if not runs:
        return None
    lines = [f"run {rid[:8]} at {_aware(at):%H:%M}: {(error or 'records failed')[:200]}" for rid, error, at in runs]
    return Finding("run_failed", "runs failed", len(runs), _more(lines[:SAMPLES], len(runs)))


async def _entries(
    db: Database, flow: Flow, status: str, since: datetime, until: datetime, rule: str, title: str
) -> Finding | None:
    where = (
        LogEntry.flow_id == flow.id,
        LogEntry.status == status,
        LogEntry.resolved.is_(False),
        LogEntry.created_at > since,
        LogEntry.created_at <= until,
    )
    async with db.session() as session:
        total = int((await session.execute(select(func.count(LogEntry.id)).where(*where))).scalar_one())
        if not total:
            return None
        rows = (
            await session.execute(
                select(LogEntry.record_key, LogEntry.node_id, LogEntry.message)
                .where(*where)
                .order_by(LogEntry.id)
                .limit(SAMPLES)
            )
        ).all()
    lines = [f"{key or '?'} at {node}: {message[:200]}" for key, node, message in rows]
    return Finding(rule, title, total, _more(lines, total))


async def _credentials(db: Database, flow: Flow, document: dict[str, Any], since: datetime) -> Finding | None:
    names = {str((n.get("config") or {}).get("connection")) for n in document.get("nodes", [])} - {"None"}
    lines: list[str] = []
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Connection.name, Connection.last_test_message).where(
                    Connection.name.in_(names), Connection.last_test_ok.is_(False), Connection.last_test_at > since
                )
            )
        ).all()
        lines.extend(f"connection {shown(name)}: {(message or 'test failed')[:200]}" for name, message in rows)
        runs = (
            await session.execute(
                select(Run.id, Run.error).where(
                    Run.flow_id == flow.id, Run.finished_at > since, Run.error.like("AuthError%")
                )
            )
        ).all()
        lines.extend(f"run {rid[:8]}: {(error or '')[:200]}" for rid, error in runs)
        entries = (
            await session.execute(
                select(LogEntry.record_key, LogEntry.detail)
                .where(LogEntry.flow_id == flow.id, LogEntry.status == "failed", LogEntry.created_at > since)
                .order_by(LogEntry.id.desc())
                .limit(500)
            )
        ).all()
    rejected = [
        key
        for key, detail in entries
        if isinstance(detail, dict) and (detail.get("error") or {}).get("type") == "AuthError"
    ]
    if rejected:
        lines.append(f"{len(rejected)} records were refused with an authentication error (e.g. {rejected[0]})")
    if not lines:
        return None
    return Finding("credentials", "credentials rejected", len(lines), lines[:SAMPLES])


async def _heartbeat(db: Database, flow: Flow, rules: AlertRules, now: datetime) -> Finding | None:
    if rules.heartbeat_hours <= 0:
        return None
    async with db.session() as session:
        last = (
            await session.execute(
                select(func.max(Run.finished_at)).where(
                    Run.flow_id == flow.id, Run.status.in_((RunStatus.SUCCEEDED, RunStatus.PARTIAL))
                )
            )
        ).scalar()
    last = _aware(last)
    limit = timedelta(hours=rules.heartbeat_hours)
    reference = last or _aware(flow.created_at) or now
    if now - reference <= limit:
        return None
    when = f"since {last:%Y-%m-%d %H:%M} UTC" if last else "ever"
    return Finding(
        "heartbeat", "no successful run", 1, [f"no successful run {when} (limit {rules.heartbeat_hours:g} h)"]
    )


async def _lag(db: Database, flow: Flow, document: dict[str, Any], rules: AlertRules, now: datetime) -> Finding | None:
    """Paid orders older than the limit that no target of the flow delivered (and no filter skipped)."""
    if rules.lag_minutes <= 0:
        return None
    sources = [n for n in document.get("nodes", []) if n.get("type") == "woocommerce.orders"]
    if not sources:
        return None
    limit = now - timedelta(minutes=rules.lag_minutes)
    connection = WooCommerceConnection((sources[0].get("config") or {}).get("connection") or "woocommerce")
    async with open_client(db, connection) as client:
        orders = await client.get(
            "/orders",
            {
                "status": "processing,completed",
                "after": (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S"),
                "dates_are_gmt": "true",
                "per_page": 100,
                "orderby": "date",
                "order": "desc",
            },
        )
    late: dict[str, str] = {}
    for order in orders or []:
        paid = order.get("date_paid_gmt")
        if not paid:
            continue
        paid_at = datetime.fromisoformat(str(paid)[:19]).replace(tzinfo=UTC)
        if paid_at <= limit:
            late[f"order:{order['id']}"] = f"order {order.get('number') or order['id']} paid {paid_at:%Y-%m-%d %H:%M}"
    if not late:
        return None
    async with db.session() as session:
        delivered = set(
            (
                await session.execute(
                    select(IdempotencyEntry.source_id).where(
                        IdempotencyEntry.flow_key == flow.id, IdempotencyEntry.source_id.in_(list(late))
                    )
                )
            ).scalars()
        )
        skipped = set(
            (
                await session.execute(
                    select(LogEntry.source_id).where(
                        LogEntry.flow_id == flow.id, LogEntry.source_id.in_(list(late)), LogEntry.status == "skipped"
                    )
                )
            ).scalars()
        )
    missing = [text for sid, text in late.items() if sid not in delivered and sid not in skipped]
    if not missing:
        return None
    return Finding(
        "lag",
        f"paid orders not delivered after {rules.lag_minutes:g} min",
        len(missing),
        _more(missing[:SAMPLES], len(missing)),
    )


async def evaluate(db: Database, flow: Flow, rules: AlertRules, since: datetime, now: datetime) -> list[Finding]:
    """Every enabled rule's finding for ``flow`` between ``since`` and ``now``."""
    async with db.session() as session:
        document = await session.scalar(select(FlowVersion.document).where(FlowVersion.current_of(flow))) or {}
    checks: list[Any] = []
    if rules.run_failed:
        checks.append(_failed_runs(db, flow, since, now))
    if rules.records_failed:
        checks.append(_entries(db, flow, "failed", since, now, "records_failed", "records failed"))
    if rules.waiting:
        checks.append(_entries(db, flow, "waiting", since, now, "waiting", "records waiting for a mapping"))
    if rules.credentials:
        checks.append(_credentials(db, flow, document, since))
    checks.append(_heartbeat(db, flow, rules, now))
    checks.append(_lag(db, flow, document, rules, now))
    findings = []
    for check in checks:
        try:
            found = await check
        except Exception as exc:  # one broken rule must not silence the others
            log.warning("alert rule failed for flow %s: %s", flow.id, exc)
            found = Finding("rule_error", "an alert rule could not be checked", 1, [f"{type(exc).__name__}: {exc}"])
        if found is not None:
            findings.append(found)
    return findings


# ---- channels ---------------------------------------------------------------------------------------------------


SmtpConfig = SmtpSettings
"""Alert e-mail settings (one object with the rest: :attr:`engine.settings.Settings.smtp`)."""


def _send_mail(config: SmtpConfig, recipients: list[str], subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(text)
    deliver(config, message)


async def send_digest(digest: Digest, rules: AlertRules, smtp: SmtpConfig | None = None) -> dict[str, str]:
    """Send one digest on each channel of ``rules``; per channel ``sent`` or the error."""
    outcome: dict[str, str] = {}
    if rules.emails:
        smtp = smtp or get_settings().smtp
        if smtp is None:
            outcome["email"] = "not configured (KOPPEL_SMTP_HOST is unset)"
        else:
            try:
                await asyncio.to_thread(_send_mail, smtp, rules.emails, digest.subject, digest.text())
                outcome["email"] = "sent"
            except (OSError, smtplib.SMTPException) as exc:
                outcome["email"] = f"{type(exc).__name__}: {exc}"
    if rules.webhook_url:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=15) as client:
                response = await client.post(rules.webhook_url, json=digest.as_json())
            outcome["webhook"] = "sent" if response.status_code < 400 else f"answered {response.status_code}"
        except httpx.HTTPError as exc:
            outcome["webhook"] = f"{type(exc).__name__}: {exc}"
    return outcome


# ---- the job ----------------------------------------------------------------------------------------------------


async def _window_start(db: Database, flow_id: str, now: datetime, period: timedelta) -> datetime:
    async with db.session() as session:
        last = (
            await session.execute(
                select(FiredSlot.info)
                .where(FiredSlot.flow_id == flow_id, FiredSlot.kind == "alerts")
                .order_by(FiredSlot.slot_at.desc())
                .limit(1)
            )
        ).scalar()
    if last and last.get("until"):
        return max(datetime.fromisoformat(last["until"]), now - timedelta(days=7))
    return now - period


async def run_alerts(
    db: Database, *, now: datetime | None = None, smtp: SmtpConfig | None = None
) -> list[dict[str, Any]]:
    """Evaluate every flow with alerts; send at most one digest per flow and period. Returns what happened."""
    now = now or utcnow()
    async with db.session() as session:
        flows = list((await session.execute(select(Flow))).scalars())
    results = []
    for flow in flows:
        rules = AlertRules.of(flow.settings)
        if not rules.enabled or not rules.has_channel:
            continue
        period = timedelta(minutes=rules.period_minutes)
        slot_at = datetime.fromtimestamp(
            math.floor(now.timestamp() / period.total_seconds()) * period.total_seconds(), UTC
        )
        key = f"alerts:{flow.id}:{slot_at.isoformat()}"
        async with db.session() as session:
            if await session.get(FiredSlot, key) is not None:
                continue
        since = await _window_start(db, flow.id, now, period)
        findings = await evaluate(db, flow, rules, since, now)
        if not findings:
            continue
        try:
            async with db.session() as session, session.begin():
                session.add(FiredSlot(key=key, flow_id=flow.id, kind="alerts", slot_at=slot_at, info={}))
        except IntegrityError:
            continue  # another worker sends this period's digest
        digest = Digest(flow.id, flow.name, since, now, findings)
        outcome = await send_digest(digest, rules, smtp)
        sent = any(v == "sent" for v in outcome.values())
        async with db.session() as session, session.begin():
            if sent:
                info = {"until": now.isoformat(), "rules": [f.rule for f in findings], "channels": outcome}
                await session.execute(update(FiredSlot).where(FiredSlot.key == key).values(info=info))
            else:  # nothing went out: free the slot so the next evaluation tries again
                await session.execute(delete(FiredSlot).where(FiredSlot.key == key))
        if not sent:
            log.warning("alert digest for flow %s not sent: %s", flow.id, outcome)
        results.append({"flow_id": flow.id, "sent": sent, "channels": outcome, "rules": [f.rule for f in findings]})
    return results
