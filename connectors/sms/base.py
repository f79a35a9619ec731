"""What an SMS provider offers svyaz, and the outcomes a send can have.

Owns: the ``SmsProvider`` protocol, the result types (``SmsSent``, ``SmsRefused``,
``SmsState``) and the two errors that say how far a failed request got:

- ``SmsUnavailable`` (a ``ChannelUnavailable``): nothing reached the provider (the connection
  could not be made) or the provider said it did nothing (its "try later" codes). Safe to
  retry.
- ``SmsOutcomeUnknown`` (deliberately *not* a ``ChannelUnavailable``): the request may have
  left — a timeout or a dropped connection after sending, an unreadable answer. An SMS costs
  money and shows twice on the phone, so the caller must not send again blind; it resolves the
  doubt first (``status`` of the id the adapter chose, when the provider lets the client
  choose ids) or gives up on this rung.

A refusal is an answer, not an error: ``send`` returns ``SmsRefused`` with a reason the ladder
can act on (top up the balance, fix the number, register the sender name, wait).

Must not: know about flows, customers, storage or the escalation ladder.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal, Protocol

from connectors.base import ChannelError, ChannelUnavailable

log = logging.getLogger("svyaz.connectors.sms")

RefusalReason = Literal["balance", "bad_number", "sender", "rate_limit", "auth", "other"]
Delivery = Literal["pending", "delivered", "failed", "not_found"]

# E.164: "+", a country code not starting with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9]\d{6,14}")


@dataclass(frozen=True, slots=True)
class SmsSent:
    """The provider accepted the message for delivery (it is not delivered yet)."""

    sms_id: str
    parts: int  # SMS parts billed: the provider's count when it gives one, else ours
    cost: Decimal | None = None  # in the account's currency, when the provider says


@dataclass(frozen=True, slots=True)
class SmsRefused:
    """The provider answered and sent nothing. ``code``/``text`` are the provider's own."""

    reason: RefusalReason
    code: str
    text: str
    retry_after: float | None = None  # seconds, for ``rate_limit`` when the provider says


SendResult = SmsSent | SmsRefused


@dataclass(frozen=True, slots=True)
class SmsState:
    """Where a sent message is: still on its way, delivered, failed, or unknown to the
    provider (``not_found``: never accepted, or too old to be kept)."""

    sms_id: str
    delivery: Delivery
    code: str
    text: str = ""
    cost: Decimal | None = None


class SmsUnavailable(ChannelUnavailable):
    """Nothing was sent (could not connect, or the provider said "try later"): safe to retry."""


class SmsOutcomeUnknown(ChannelError):
    """The request may have reached the provider but no usable answer came back.

    ``sms_id`` is the id the message would have, when the adapter chose it before sending
    (SMSC.ru): ``status(sms_id)`` then tells whether it was accepted. ``None`` when only the
    provider assigns ids (SMS.ru): the outcome cannot be resolved, so do not send again."""

    def __init__(self, message: str, *, sms_id: str | None = None) -> None:
        super().__init__(message)
        self.sms_id = sms_id


class SmsProvider(Protocol):
    """The calls the spare channel makes; each adapter owns its HTTP session."""

    name: str

    async def send(self, phone_e164: str, text: str) -> SendResult:
        """Ask the provider to send ``text`` to ``phone_e164`` (``+79991234567``).

        Returns ``SmsSent`` or ``SmsRefused``; raises ``SmsUnavailable`` (nothing sent) or
        ``SmsOutcomeUnknown`` (maybe sent)."""

    async def status(self, sms_id: str) -> SmsState:
        """The delivery state of a message ``send`` accepted (or an unknown outcome named).

        Raises ``SmsUnavailable`` when the provider cannot be asked now,
        ``ChannelAuthError`` when the credentials are refused."""

    async def close(self) -> None:
        """Close the HTTP session (a later call opens a new one)."""


class SmsHistory(Protocol):
    """A provider that lists the messages recently sent to a number (none of the two adapters
    here offers it yet: SMS.ru has no such call; SMSC.ru's is not wired)."""

    async def recent(self, phone_e164: str) -> list[SmsSent]:
        """Messages sent to ``phone_e164`` lately, newest first."""


def is_e164(phone: str) -> bool:
    return _E164.fullmatch(phone) is not None


def masked(phone: str) -> str:
    """A phone as logs may show it: its last two digits only."""
    return "…" + phone[-2:] if len(phone) >= 2 else "…"


def not_e164(phone: str) -> SmsRefused:
    """The refusal for a number no provider would accept (nothing is sent, nothing paid)."""
    return SmsRefused("bad_number", "e164", f"not an E.164 number (…{phone[-2:]})")


def log_result(provider: str, phone: str, result: SendResult, shown_id: str | None = None) -> None:
    """One log line for a send's outcome: the phone masked, never the text or credentials;
    ``shown_id`` replaces an id that would reveal the number."""
    if isinstance(result, SmsSent):
        log.info("%s accepted an SMS to %s: id %s, %d part(s)", provider, masked(phone),
                 shown_id or result.sms_id, result.parts)
    elif result.reason == "auth":
        log.error("%s refused the credentials (code %s); set them right", provider, result.code)
    else:
        log.warning("%s refused an SMS to %s: %s, code %s (%s)", provider, masked(phone),
                    result.reason, result.code, result.text)


def int_or_zero(value: object) -> int:
    """A provider's numeric field as an int (0 when it is missing or not a number)."""
    try:
        return int(str(value))
    except ValueError:
        return 0


def decimal_or_none(value: object) -> Decimal | None:
    """A provider's money field ("3.49", 3.49) as a Decimal; None when absent or malformed."""
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None
