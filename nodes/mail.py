"""Sending e-mail from a node: the SMTP settings a run offers its nodes, and one blocking send run in a thread.

The engine's :class:`engine.settings.SmtpSettings` satisfies :class:`MailSettings`; a run context that can send mail
carries them as ``smtp`` (:class:`MailContext`), so nodes never read the environment or import the engine.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol, runtime_checkable

__all__ = ("MailContext", "MailError", "MailSettings", "deliver", "send_mail")


class MailSettings(Protocol):
    """Where e-mail goes (``KOPPEL_SMTP_*``)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def sender(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def starttls(self) -> bool: ...
    @property
    def ssl(self) -> bool: ...


@runtime_checkable
class MailContext(Protocol):
    """A node context that can send e-mail (None: e-mail is not set up)."""

    @property
    def smtp(self) -> MailSettings | None: ...


class MailError(Exception):
    """The mail server could not be reached or refused the message (a readable sentence, no password)."""


def deliver(settings: MailSettings, message: EmailMessage) -> None:
    """Hand ``message`` to the mail server (blocking: run it in a thread), to the addresses of its To header.

    Raises:
        OSError, smtplib.SMTPException: the server could not be reached or refused the message.
    """
    smtp_cls = smtplib.SMTP_SSL if settings.ssl else smtplib.SMTP
    with smtp_cls(settings.host, settings.port, timeout=30) as smtp:
        if settings.starttls and not settings.ssl:
            smtp.starttls()
        if settings.user:
            smtp.login(settings.user, settings.password)
        smtp.send_message(message)


async def send_mail(settings: MailSettings, to: list[str], subject: str, text: str) -> str:
    """Send one plain-text message; its Message-ID.

    Raises:
        MailError: the server could not be reached or refused the message.
    """
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(text)
    try:
        await asyncio.to_thread(deliver, settings, message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"the mail server refused the address {', '.join(exc.recipients)}") from None
    except smtplib.SMTPAuthenticationError:
        raise MailError("the mail server refused the user name or password (KOPPEL_SMTP_USER)") from None
    except (OSError, smtplib.SMTPException) as exc:
        reason = str(exc).replace(settings.password, "***") if settings.password else str(exc)
        raise MailError(
            f"the mail server {settings.host}:{settings.port} could not take the message: {reason}"
        ) from None
    return str(message["Message-ID"])
