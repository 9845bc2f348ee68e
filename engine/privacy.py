"""Personal data in stored logs: redaction of snapshots (per-flow setting) and "erase by e-mail" (GDPR).

A flow whose ``settings["privacy"]`` is ``{"redact_personal": true}`` (or the string ``"redact"``) keeps no names,
e-mail addresses, phone numbers or street addresses in its log snapshots: :func:`redact_personal` replaces them by
``"[redacted]"`` while amounts, SKUs, statuses and ids stay, so a log still explains what happened.

:func:`erase_by_email` removes one person's data from every stored log entry of every flow (the entries that
mention the address, and every entry of the same record), and from run errors, and reports what it changed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, cast, func, or_, select, update

from engine.models import LogEntry, Run, utcnow

if TYPE_CHECKING:
    from engine.db import Database

__all__ = (
    "PERSONAL_KEYS",
    "REDACTED",
    "ErasureReport",
    "erase_by_email",
    "privacy_enabled",
    "redact_personal",
    "redactor_for",
)

log = logging.getLogger("koppel.privacy")

REDACTED = "[redacted]"
ERASED = "[erased]"

PERSONAL_KEYS = frozenset(
    {
        # WooCommerce
        "first_name",
        "last_name",
        "email",
        "phone",
        "address_1",
        "address_2",
        "postcode",
        "city",
        "customer_ip_address",
        "customer_user_agent",
        "customer_note",
        "username",
        "avatar_url",
        # Asperion debtors and contacts
        "emailaddress",
        "phonenumber",
        "mobilenumber",
        "address",
        "addressline2",
        "postalcode",
        "attentionto",
        "firstname",
        "lastname",
        "contactperson",
    }
)
"""Keys (compared in lower case) whose values are personal wherever they appear."""

PERSON_CONTAINERS = frozenset({"billing", "shipping", "customer", "debtor", "contact", "person"})
"""Objects under these keys describe a person: their ``name`` and ``company`` are personal too."""
PERSON_MARKERS = frozenset({"email", "emailaddress", "phone", "phonenumber"})
"""An object with one of these keys describes a person (so its ``name`` is a person's name)."""
CONTEXT_NAME_KEYS = frozenset({"name", "company", "fullname", "displayname"})

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


async def redactor_for(db: Database, flow_id: str | None) -> Callable[[Any], Any] | None:
    """:func:`redact_personal` when the flow's privacy setting asks for it (the log sink applies it), else None."""
    if not flow_id:
        return None
    from engine.models import Flow

    async with db.session() as session:
        settings = (await session.execute(select(Flow.settings).where(Flow.id == flow_id))).scalar()
    return redact_personal if privacy_enabled(settings) else None


def privacy_enabled(settings: dict[str, Any] | None) -> bool:
    """Whether a flow's settings ask for personal data to be redacted from its log snapshots."""
    value = (settings or {}).get("privacy")
    if isinstance(value, dict):
        return bool(value.get("redact_personal"))
    return value in (True, "redact", "redact_personal")


@dataclass
class _Counter:
    replaced: int = 0


def _scrub_text(text: str, counter: _Counter, pattern: re.Pattern[str] | None) -> str:
    if pattern is not None:
        text, n = pattern.subn(ERASED, text)
    else:
        text, n = EMAIL_RE.subn(REDACTED, text)
    counter.replaced += n
    return text


def _redact(value: Any, counter: _Counter, *, person: bool, pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, dict):
        keys = {str(k).lower() for k in value}
        is_person = person or bool(keys & PERSON_MARKERS)
        out: dict[str, Any] = {}
        for key, item in value.items():
            lower = str(key).lower()
            personal = lower in PERSONAL_KEYS or (is_person and lower in CONTEXT_NAME_KEYS)
            if personal and item not in (None, "", [], {}) and not isinstance(item, dict | list):
                out[key] = REDACTED
                counter.replaced += 1
            else:
                out[key] = _redact(item, counter, person=lower in PERSON_CONTAINERS, pattern=pattern)
        return out
    if isinstance(value, list):
        return [_redact(item, counter, person=person, pattern=pattern) for item in value]
    if isinstance(value, str):
        return _scrub_text(value, counter, pattern)
    return value


def _identity(value: Any, email: str, found: set[str]) -> None:
    """Collect the person's own values (names, phone, address) from objects that carry ``email``."""
    if isinstance(value, dict):
        if any(isinstance(v, str) and v.strip().lower() == email for v in value.values()):
            personal = {
                str(k).lower(): v.strip()
                for k, v in value.items()
                if isinstance(v, str) and (str(k).lower() in PERSONAL_KEYS or str(k).lower() in CONTEXT_NAME_KEYS)
            }
            found.update(v for v in personal.values() if len(v) >= 3)
            full = " ".join(p for p in (personal.get("first_name", ""), personal.get("last_name", "")) if p)
            if len(full) >= 3:
                found.add(full)
        for item in value.values():
            _identity(item, email, found)
    elif isinstance(value, list):
        for item in value:
            _identity(item, email, found)


def _pattern(values: set[str]) -> re.Pattern[str]:
    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE)


def redact_personal(value: Any) -> Any:
    """A copy of ``value`` (a snapshot) without names, e-mail addresses, phones or street addresses."""
    return _redact(value, _Counter(), person=False, pattern=None)


# ---- erase by e-mail --------------------------------------------------------------------------------------------


@dataclass
class ErasureReport:
    """What :func:`erase_by_email` changed (the address itself is not repeated in it)."""

    entries: int = 0
    """Log entries changed."""
    values: int = 0
    """Values replaced inside them (fields of snapshots, keys, messages)."""
    runs: list[str] = field(default_factory=list)
    """Runs whose log entries (or error) held the person's data."""
    flows: dict[str, int] = field(default_factory=dict)
    """Per flow id (``""`` for connections-file runs): entries changed."""
    run_errors: int = 0
    erased_at: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "values": self.values,
            "runs": self.runs,
            "flows": self.flows,
            "run_errors": self.run_errors,
            "erased_at": self.erased_at,
        }


def _like(email: str) -> str:
    escaped = email.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _matching_entries(db: Database, email: str, batch: int) -> tuple[set[int], set[tuple[str | None, str]]]:
    """Ids of entries mentioning ``email``, and the (flow, source id) records they belong to."""
    pattern = _like(email)
    mentions = or_(
        func.lower(LogEntry.record_key) == email,
        func.lower(LogEntry.message).like(pattern, escape="\\"),
        func.lower(cast(LogEntry.detail, Text)).like(pattern, escape="\\"),
    )
    ids: set[int] = set()
    records: set[tuple[str | None, str]] = set()
    last = 0
    while True:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(LogEntry.id, LogEntry.flow_id, LogEntry.source_id)
                    .where(LogEntry.id > last, mentions)
                    .order_by(LogEntry.id)
                    .limit(batch)
                )
            ).all()
        for entry_id, flow_id, source_id in rows:
            ids.add(entry_id)
            if source_id:
                records.add((flow_id, source_id))
        if len(rows) < batch:
            return ids, records
        last = rows[-1][0]
        await asyncio.sleep(0)


async def _record_entries(db: Database, records: set[tuple[str | None, str]]) -> set[int]:
    """Every entry (any run) of the records that mentioned the person: they hold the same person's data."""
    ids: set[int] = set()
    for flow_id, source_id in records:
        owner = LogEntry.flow_id.is_(None) if flow_id is None else LogEntry.flow_id == flow_id
        async with db.session() as session:
            ids.update(
                (await session.execute(select(LogEntry.id).where(owner, LogEntry.source_id == source_id))).scalars()
            )
    return ids


async def erase_by_email(db: Database, email: str, *, batch: int = 200) -> ErasureReport:
    """Remove the person with ``email`` from every stored log entry and run error; report what changed.

    In each affected entry the personal fields of the snapshots are redacted, and every occurrence of the address
    and of the person's own values found next to it (names, phone, street) is replaced by ``"[erased]"`` (snapshots,
    record key, message, run errors); amounts, ids and statuses stay.

    Raises:
        ValueError: ``email`` is not an e-mail address.
    """
    email = email.strip().lower()
    if "@" not in email or len(email) < 3:
        raise ValueError("enter the e-mail address of the person to erase")
    report = ErasureReport(erased_at=utcnow().isoformat())
    ids, records = await _matching_entries(db, email, batch)
    ids |= await _record_entries(db, records)
    runs: set[str] = set()
    ordered = sorted(ids)
    identity = {email}
    for start in range(0, len(ordered), batch):
        async with db.session() as session:
            details = (
                await session.execute(select(LogEntry.detail).where(LogEntry.id.in_(ordered[start : start + batch])))
            ).scalars()
            for detail in details:
                _identity(detail, email, identity)
    pattern = _pattern(identity)
    for start in range(0, len(ordered), batch):
        chunk = ordered[start : start + batch]
        async with db.session() as session, session.begin():
            rows = (await session.execute(select(LogEntry).where(LogEntry.id.in_(chunk)))).scalars().all()
            for row in rows:
                counter = _Counter()
                detail = _redact(row.detail, counter, person=False, pattern=pattern) if row.detail else row.detail
                key = _scrub_text(row.record_key, counter, pattern)
                message = _scrub_text(row.message or "", counter, pattern)
                await session.execute(
                    update(LogEntry).where(LogEntry.id == row.id).values(detail=detail, record_key=key, message=message)
                )
                report.entries += 1
                report.values += counter.replaced
                report.flows[row.flow_id or ""] = report.flows.get(row.flow_id or "", 0) + 1
                runs.add(row.run_id)
        await asyncio.sleep(0)
    async with db.session() as session, session.begin():
        failed = (
            await session.execute(
                select(Run.id, Run.error).where(func.lower(Run.error).like(_like(email), escape="\\"))
            )
        ).all()
        for run_id, error in failed:
            counter = _Counter()
            await session.execute(
                update(Run).where(Run.id == run_id).values(error=_scrub_text(error or "", counter, pattern))
            )
            report.run_errors += 1
            report.values += counter.replaced
            runs.add(run_id)
    report.runs = sorted(runs)
    log.info("erased a person from %d log entries and %d run errors", report.entries, report.run_errors)
    return report
