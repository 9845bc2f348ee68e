"""``email.send``: one e-mail per record, on the SMTP settings of the installation (``KOPPEL_SMTP_*``).

The recipients, the subject and the text are templates of the record (``{{ billing.email }}``, see
:mod:`nodes.placeholders`). A record whose recipient is empty or not an e-mail address fails with that reason; a
line break in an address or the subject is refused (no header injection).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field, field_validator

from nodes.base import ANY, Delivery, Kind, NodeConfig, Port, Record, RecordFailed, TargetNode
from nodes.mail import MailContext, MailError, send_mail
from nodes.placeholders import TemplateError, check_template, fill_text

__all__ = ("EmailConfig", "EmailTarget")

_ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")


class EmailConfig(NodeConfig):
    """Who gets the e-mail and what it says."""

    to: str = Field(
        title="To",
        description="Addresses separated by commas, with {{ }} placeholders, e.g. {{ billing.email }}",
    )
    subject: str = Field(title="Subject", description="With {{ }} placeholders, e.g. Order {{ number }} received")
    body: str = Field(
        title="Text",
        description="The message, with {{ }} placeholders, e.g. Dear {{ billing.first_name }}, …",
    )

    @field_validator("to", "subject", "body")
    @classmethod
    def _templates(cls, value: str) -> str:
        try:
            return str(check_template(value))
        except TemplateError as exc:
            raise ValueError(str(exc)) from None


class EmailTarget(TargetNode):
    """Sends one e-mail per record."""

    type = "email.send"
    would: ClassVar[str] = "Would send an e-mail for {key}"
    kind = Kind.TARGET
    title = "Send e-mail"
    description = "Sends one e-mail per record; the recipients, subject and text come from a template of the record."
    config_model = EmailConfig
    inputs = (Port("in", ANY),)
    outputs = (Port("out", ANY),)

    config: EmailConfig

    async def build(self, record: Record) -> dict[str, Any]:
        """The e-mail: recipients, subject and text filled in from the record.

        Raises:
            RecordFailed: a placeholder cannot be filled in, no valid recipient, or a line break in a header.
        """
        try:
            to = fill_text(self.config.to, record.data)
            subject = fill_text(self.config.subject, record.data)
            body = fill_text(self.config.body, record.data)
        except TemplateError as exc:
            raise RecordFailed(str(exc)) from None
        addresses = [a.strip() for a in re.split(r"[,;]", to) if a.strip()]
        if not addresses:
            raise RecordFailed("the e-mail has no recipient (the To field is empty for this record)")
        wrong = [a for a in addresses if not _ADDRESS.fullmatch(a)]
        if wrong:
            raise RecordFailed(f"not an e-mail address: {', '.join(wrong)}")
        if "\n" in subject or "\r" in subject:
            raise RecordFailed("the subject has a line break; an e-mail subject is one line")
        return {"to": addresses, "subject": subject, "body": body}

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """Send the e-mail; its Message-ID names the delivery.

        Raises:
            RecordFailed: e-mail is not set up, or the mail server refused the message.
        """
        smtp = self.ctx.smtp if isinstance(self.ctx, MailContext) else None
        if smtp is None:
            raise RecordFailed("e-mail is not set up: ask the administrator to set KOPPEL_SMTP_HOST")
        try:
            message_id = await send_mail(smtp, payload["to"], payload["subject"], payload["body"])
        except MailError as exc:
            raise RecordFailed(str(exc)) from None
        return Delivery(
            target_id=message_id, message=f"E-mail sent to {', '.join(payload['to'])}", request=payload, response=None
        )
