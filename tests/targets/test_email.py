"""The e-mail step: one e-mail per record through a local SMTP server (aiosmtpd), templated from the record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from engine.settings import SmtpSettings
from nodes.base import Record, RecordFailed
from nodes.mail import MailContext
from nodes.targets.email import EmailConfig, EmailTarget
from tests.conftest import Inbox, free_port


@dataclass
class MailCtx:
    smtp: SmtpSettings | None
    flow_key: str = "flow"
    run_id: str = "run-1"
    dry_run: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def client(self, connection: str) -> Any:
        raise AssertionError("no connection")

    def cursor(self, node_id: str) -> Any:
        raise AssertionError("no cursor")

    def now(self) -> datetime:
        return datetime(2025, 3, 10, tzinfo=UTC)


CONFIG = {
    "to": "{{ billing.email }}",
    "subject": "Order {{ number }} received",
    "body": "Dear {{ billing.first_name }},\n\nWe received {{ number(total) * 1 }} EUR. Thank you!",
}


def order(number: int, mail: str) -> Record:
    data = {"number": number, "total": "12.50", "billing": {"email": mail, "first_name": "Anna"}}
    return Record(key=str(number), source_id=f"order:{number}", data=data)


async def test_one_email_per_record_from_the_template(smtp: tuple[Inbox, SmtpSettings]) -> None:
    inbox, settings = smtp
    ctx = MailCtx(settings)
    assert isinstance(ctx, MailContext)
    node = EmailTarget("mail", EmailConfig.model_validate(CONFIG), ctx)
    ids = []
    for record in (order(1001, "anna@example.test"), order(1002, "bob@example.test")):
        ids.append((await node.send(record, await node.build(record))).target_id)
    assert [rcpt for rcpt, _ in inbox.messages] == [["anna@example.test"], ["bob@example.test"]]
    first = inbox.messages[0][1]
    assert first["Subject"] == "Order 1001 received" and first["From"] == "shop@koppel.test"
    assert "Dear Anna," in first.get_payload() and "12.50 EUR" in first.get_payload()
    assert ids[0] == first["Message-ID"] and ids[0] != ids[1]


async def test_bad_recipients_and_missing_setup_fail_the_record_plainly(smtp: tuple[Inbox, SmtpSettings]) -> None:
    inbox, settings = smtp
    node = EmailTarget("mail", EmailConfig.model_validate(CONFIG), MailCtx(settings))
    with pytest.raises(RecordFailed, match="no recipient"):
        await node.build(order(1, ""))
    with pytest.raises(RecordFailed, match="not an e-mail address: nobody"):
        await node.build(order(1, "nobody"))
    sneaky = order(1, "a@example.test")
    sneaky.data["number"] = "1\nBcc: victim@example.test"
    with pytest.raises(RecordFailed, match="line break"):
        await node.build(sneaky)
    unset = EmailTarget("mail", EmailConfig.model_validate(CONFIG), MailCtx(None))
    record = order(2, "anna@example.test")
    with pytest.raises(RecordFailed, match="KOPPEL_SMTP_HOST"):
        await unset.send(record, await unset.build(record))
    down = EmailTarget(
        "mail", EmailConfig.model_validate(CONFIG), MailCtx(SmtpSettings(host="127.0.0.1", port=free_port()))
    )
    with pytest.raises(RecordFailed, match="could not take the message"):
        await down.send(record, await down.build(record))
    assert inbox.messages == []


def test_templates_are_checked_in_the_form() -> None:
    with pytest.raises(ValidationError, match="not closed"):
        EmailConfig.model_validate({**CONFIG, "subject": "Order {{ number"})
