"""Sending one e-mail over SMTP (aiosmtplib) and saying plainly how it ended.

Owns the SMTP conversation and the mapping of everything that can happen in it onto one
``EmailSent`` outcome, decided by a pure function (``outcome_of``) from the error and the
step the conversation had reached:

- ``sent``: the server took the message (its answer is kept, e.g. ``250 2.0.0 Ok: queued``).
- ``refused``: a 5xx for the envelope or the message — a bad address, relaying denied, a
  message too large. The same send will be refused again: do not retry.
- ``unavailable``: nothing was handed over — the server could not be reached, the TLS
  handshake or certificate check failed, a 4xx (greylisting, a full queue), the connection
  dropped or timed out before the message was sent. Retry later.
- ``unknown``: the connection dropped or timed out after ``DATA`` began: the server may have
  taken the message. A retry may deliver it twice (with the same ``Message-ID``).
- ``misconfigured``: the settings cannot work with this server — the user or password was
  refused, the server offers no AUTH, it offers no STARTTLS although a password would have
  to be sent, or it answers 5xx before any message is named (a greeting of 554: this machine
  may not send here). Every message would fail alike until the settings change.

Two timeouts: ``connect_timeout`` to reach the server and read its greeting, ``send_timeout``
for the whole send. One INFO line per send names the outcome, the recipient's domain, the
server's code and the time; never the address, the body or the password. The server's text
kept in ``EmailSent.detail`` has the recipient's address replaced by ``…@domain``.

Must not: retry, choose a channel, or know about customers and notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from connectors.email.address import EmailError, Mailbox, parse_address
from connectors.email.message import POLICY
from connectors.email.settings import CA_SETTING, EmailSettings, EmailSettingsError

log = logging.getLogger("svyaz.connectors.email")

Outcome = Literal["sent", "refused", "unavailable", "unknown", "misconfigured"]
# How far one SMTP conversation got: reaching the server (greeting, TLS), logging in,
# naming sender and recipient, handing over the message, done.
Step = Literal["connect", "login", "envelope", "data", "done"]


@dataclass(frozen=True, slots=True)
class EmailSent:
    """How one send ended: the outcome, the server's reply code (if any) and its text."""

    outcome: Outcome
    code: int | None = None
    detail: str = ""

    @property
    def retry_later(self) -> bool:
        """True when trying again later may succeed without changing anything."""
        return self.outcome == "unavailable"


class _NoStartTls(aiosmtplib.SMTPException):
    """The server offers no STARTTLS, and the password must not be sent in clear."""


@dataclass(slots=True)
class _Progress:
    step: Step = "connect"
    answer: aiosmtplib.SMTPResponse | None = None


def outcome_of(error: BaseException, step: Step) -> EmailSent:
    """What ``error``, raised at ``step`` of the conversation, means for the message."""
    code = getattr(error, "code", None)
    text = str(getattr(error, "message", "") or error)
    if isinstance(error, _NoStartTls):
        return EmailSent("misconfigured", None, text)
    if isinstance(error, aiosmtplib.SMTPResponseException) and isinstance(code, int):
        if 400 <= code < 500:
            return EmailSent("unavailable", code, text)
        # 5xx before the envelope: the server refuses this client, not this message
        permanent: Outcome = "misconfigured" if step in ("connect", "login") else "refused"
        return EmailSent(permanent, code, text)
    if step == "data":  # no answer to the message: it may have been taken
        return EmailSent("unknown", None, text or type(error).__name__)
    if step == "login" and not isinstance(error, OSError | TimeoutError):
        return EmailSent("misconfigured", None, text)  # e.g. the server offers no AUTH
    return EmailSent("unavailable", None, text or type(error).__name__)


class EmailSender:
    """Sends ``EmailMessage``s (from ``build_message``) through the configured server.

    One connection per message: notices are rare, and a fresh connection has no state left
    over from a previous failure. Building the TLS context reads the CA file (at start-up).
    """

    def __init__(self, settings: EmailSettings) -> None:
        self._settings = settings
        self.mail_from = settings.mail_from  # the From of every message it sends
        self._tls = _tls_context(settings)

    async def send(self, message: EmailMessage) -> EmailSent:
        """Send ``message`` to its one ``To`` address; never raises for SMTP or network trouble.

        Raises ``EmailError`` only when the message itself has no single valid ``From``/``To``.
        """
        sender, recipient = _envelope(message)
        payload = message.as_bytes(policy=POLICY)
        progress = _Progress()
        started = time.monotonic()
        error: BaseException | None = None
        try:
            async with asyncio.timeout(self._settings.send_timeout):
                await self._converse(sender.addr_spec, recipient.addr_spec, payload, progress)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = exc
        result = _result(progress, error)
        result = _redacted(result, recipient)
        level = logging.INFO if result.outcome == "sent" else logging.WARNING
        log.log(level, "email %s: to @%s, code %s, %d ms%s", result.outcome, recipient.domain,
                result.code, (time.monotonic() - started) * 1000,
                "" if result.outcome == "sent" else f" ({result.detail})")
        return result

    async def _converse(self, sender: str, recipient: str, payload: bytes,
                        progress: _Progress) -> None:
        settings = self._settings
        client = aiosmtplib.SMTP(
            hostname=settings.host, port=settings.port, use_tls=settings.tls == "implicit",
            start_tls=False, tls_context=self._tls, timeout=settings.send_timeout)
        await client.connect(timeout=settings.connect_timeout)
        try:
            await self._secure(client)
            progress.step = "login"
            if settings.username is not None and settings.password is not None:
                await client.login(settings.username, settings.password.get_secret_value())
            progress.step = "envelope"
            await client.mail(sender)
            await client.rcpt(recipient)
            progress.step = "data"
            progress.answer = await client.data(payload)
            progress.step = "done"
        finally:
            await _close(client, polite=progress.step == "done")

    async def _secure(self, client: aiosmtplib.SMTP) -> None:
        """STARTTLS when offered; without it, go on only if no password is to be sent."""
        if self._settings.tls == "implicit":
            return
        await client.ehlo()
        if client.supports_extension("starttls"):
            await client.starttls()
        elif self._settings.username is not None:
            raise _NoStartTls(
                "the server offers no STARTTLS; the password is not sent over a plain "
                "connection (use smtps://, or a server that offers STARTTLS)")


def _tls_context(settings: EmailSettings) -> ssl.SSLContext:
    """Certificates verified against the system's CAs, or only those of the CA file."""
    try:
        return ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(settings.ca_file) if settings.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise EmailSettingsError(
            f"{CA_SETTING}: cannot read CA certificates (PEM) from {settings.ca_file}: "
            f"{getattr(exc, 'strerror', None) or exc}") from exc


async def _close(client: aiosmtplib.SMTP, *, polite: bool) -> None:
    """QUIT after a sent message (its failure changes nothing), else just drop the line."""
    if polite:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await client.quit(timeout=1.0)
    client.close()


def _envelope(message: EmailMessage) -> tuple[Mailbox, Mailbox]:
    senders, recipients = message.get_all("From", []), message.get_all("To", [])
    from_addresses = [a for header in senders for a in getattr(header, "addresses", ())]
    to_addresses = [a for header in recipients for a in getattr(header, "addresses", ())]
    if (len(from_addresses) != 1 or len(to_addresses) != 1
            or message.get_all("Cc") or message.get_all("Bcc")):
        raise EmailError("a message for EmailSender has one From and one To, no Cc or Bcc")
    return parse_address(from_addresses[0].addr_spec), parse_address(to_addresses[0].addr_spec)


def _result(progress: _Progress, error: BaseException | None) -> EmailSent:
    if progress.answer is not None:  # the message was taken, whatever came after
        return EmailSent("sent", progress.answer.code, progress.answer.message)
    if error is None:
        raise AssertionError("the conversation ended with neither an answer nor an error")
    return outcome_of(error, progress.step)


def _redacted(result: EmailSent, recipient: Mailbox) -> EmailSent:
    """``result`` with the recipient's address in the server's text cut to ``…@domain``."""
    address = re.compile(re.escape(recipient.addr_spec), re.IGNORECASE)
    detail = address.sub(f"…@{recipient.domain}", result.detail)
    return EmailSent(result.outcome, result.code, detail)
