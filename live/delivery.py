"""Sending one message: e-mail over SMTP, or a signed POST to a webhook (an SMS gateway).

Each sender makes one attempt and either returns (the receiver took it) or raises
:class:`Undelivered`, saying whether another attempt could help. Retries, back-off and
who sends what are :mod:`live.notifier`'s.

**The webhook's signature.** The body is JSON (UTF-8). The header ``X-Live-Signature``
is ``sha256=`` and the lower-case hex HMAC-SHA256 of the exact body bytes, keyed with
``LIVE_WEBHOOK_SECRET`` (the same scheme as GitHub's webhooks, which gateways and their
libraries already verify). ``X-Live-Delivery`` repeats the body's ``id``, the same at
every attempt: a receiver that has taken an id already answers 2xx and does nothing, and
so sees each message once although it may be sent more than once. ``X-Live-Attempt``
counts the attempts (1, 2, ...). A 2xx answer is taken as delivered; 408, 425, 429 and
5xx, a timeout or a refused connection are tried again later; any other 4xx is final.

**E-mail.** ``smtp://host[:port]`` upgrades with STARTTLS when the server offers it;
``smtps://host[:port]`` speaks TLS from the start; a user and password in the URL log in.
Each message carries ``Message-ID: <delivery id@sender's domain>``, the same at every
attempt, for the same reason. A 5xx refusal (no such mailbox) is final.

Why this never names the contact in an error: what a failure says is logged and shown to
staff, and an SMTP refusal quotes the address it refused.
"""

from __future__ import annotations

import email.policy
import hashlib
import hmac
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx

from .notify import Message

RETRYABLE = frozenset({408, 425, 429})
"""4xx answers that mean "later", not "never"."""


class Undelivered(Exception):
    """One attempt failed: ``reason`` says how (never with the contact); ``final`` if no
    later attempt can succeed."""

    def __init__(self, reason: str, final: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final


def sign(secret: str, body: bytes) -> str:
    """The ``X-Live-Signature`` of ``body``: ``sha256=<hex HMAC-SHA256 keyed with secret>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Mailer:
    """E-mail through the SMTP server of ``LIVE_SMTP_URL``, from ``LIVE_SMTP_FROM``."""

    def __init__(self, url: str, sender: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SystemExit("LIVE_SMTP_URL: smtp://[user:password@]host[:port] or smtps://...")
        if "@" not in parseaddr(sender)[1]:
            raise SystemExit("LIVE_SMTP_FROM: the sender's address is needed with LIVE_SMTP_URL")
        self.host = parts.hostname
        self.tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.domain = parseaddr(sender)[1].rpartition("@")[2]
        self.timeout = timeout

    def compose(self, delivery_id: str, to: str, message: Message) -> EmailMessage:
        mail = EmailMessage(policy=email.policy.SMTP)
        mail["From"] = self.sender
        mail["To"] = to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{delivery_id}@{self.domain}>"
        mail["X-Live-Delivery"] = delivery_id
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.text, charset="utf-8")
        return mail

    async def send(self, delivery_id: str, to: str, message: Message) -> None:
        try:
            await aiosmtplib.send(
                self.compose(delivery_id, to, message),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = sorted({r.code for r in exc.recipients})
            raise Undelivered(
                f"smtp: recipient refused ({codes})", final=all(c >= 500 for c in codes)
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise Undelivered(f"smtp: {exc.code}", final=exc.code >= 500) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise Undelivered(f"smtp: {type(exc).__name__}") from None


class Webhook:
    """Signed POSTs to ``LIVE_WEBHOOK_URL``, one connection pool for every attempt."""

    def __init__(self, url: str, secret: str, timeout: float) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise SystemExit("LIVE_WEBHOOK_URL: an http:// or https:// URL")
        if not secret:
            raise SystemExit("LIVE_WEBHOOK_SECRET: needed with LIVE_WEBHOOK_URL (it signs every request)")
        self.url = url
        self.secret = secret
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def send(self, delivery_id: str, attempt: int, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Live-Delivery": delivery_id,
            "X-Live-Attempt": str(attempt),
            "X-Live-Signature": sign(self.secret, body),
        }
        try:
            response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Undelivered(f"webhook: {type(exc).__name__}") from None
        status = response.status_code
        if status >= 300:
            final = status < 500 and status not in RETRYABLE
            raise Undelivered(f"webhook: HTTP {status}", final=final)

    async def aclose(self) -> None:
        await self.client.aclose()
