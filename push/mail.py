"""E-mail through SMTP: ``smtp://user:password@host:port`` (STARTTLS when the server
offers it) or ``smtps://...`` (TLS from the start)."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib


class MailError(Exception):
    """The message could not be handed to the SMTP server; ``reason`` is the short code
    the delivery log shows (the server's own words go to the worker's log only)."""

    def __init__(self, message: str, reason: str = "smtp_error") -> None:
        super().__init__(message)
        self.reason = reason


async def send(url: str, sender: str, to: str, subject: str, body: str, key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError(f"KEYLINK_SMTP_URL must be smtp:// or smtps://, got {parts.scheme!r}",
                        "smtp_not_configured")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    # Lets a mail client (and a test) tell a retried delivery from a new one.
    message["Message-ID"] = f"<{key}@keylink>"
    message.set_content(body)
    tls = parts.scheme == "smtps"
    try:
        await aiosmtplib.send(
            message, hostname=parts.hostname, port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls, start_tls=None if not tls else False, timeout=30)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"{type(exc).__name__}: {exc}", "recipient_refused") from exc
    except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}", "timeout") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
