"""SMS.ru (https://sms.ru/api): send, delivery status, and what its codes mean.

Wire: ``POST <base>/sms/send`` with the form ``api_id, to, msg, json=1`` (and ``from`` when a
sender name is set); ``POST <base>/sms/status`` with ``api_id, sms_id, json=1``. Answers are
JSON: ``{"status": "OK"|"ERROR", "status_code": N, "sms": {<phone or id>: {"status",
"status_code", "sms_id" | "cost", "status_text"}}, "balance": …}`` (as sms.ru/api/send and
/api/status show them). The code tables below are SMS.ru's list as its client libraries carry
it (the stored copy of the docs did not include the list itself); a code not named is
``other`` for a send and ``pending`` for a status, the choices that spend nothing twice.

SMS.ru assigns message ids itself and has no call listing sent messages, so a send whose
answer was lost (``SmsOutcomeUnknown``) cannot be resolved here: do not send it again. (SMS.ru
itself refuses the same text to the same number twice within a minute, code 231.)

Must not: log the api_id, a phone number (the last two digits at most) or a text.
"""

from __future__ import annotations

import logging

from connectors.base import ChannelAuthError
from connectors.sms.base import (
    Delivery,
    RefusalReason,
    SendResult,
    SmsOutcomeUnknown,
    SmsRefused,
    SmsSent,
    SmsState,
    decimal_or_none,
    int_or_zero,
    is_e164,
    log_result,
    masked,
    not_e164,
)
from connectors.sms.text import parts
from connectors.sms.wire import (
    Answer,
    Busy,
    NoAnswer,
    NotSent,
    RetryPolicy,
    Session,
    http_outcome,
    post_form,
    retrying,
)

log = logging.getLogger("svyaz.connectors.sms")

DEFAULT_URL = "https://sms.ru"

# Delivery status codes (``/sms/status`` and the callback).
DELIVERY: dict[int, Delivery] = {
    -1: "not_found",  # Сообщение не найдено
    100: "pending",  # в очереди
    101: "pending",  # передаётся оператору
    102: "pending",  # отправлено (в пути)
    103: "delivered",
    104: "failed",  # время жизни истекло
    105: "failed",  # удалено оператором
    106: "failed",  # сбой в телефоне
    107: "failed",  # неизвестная причина
    108: "failed",  # отклонено
    110: "delivered",  # прочитано (Viber)
    150: "failed",  # не найден маршрут на номер
}

# Refusal codes of ``/sms/send``; any code not named here is ``other`` (bad text, bad
# parameters, a forbidden word).
REFUSALS: dict[int, RefusalReason] = {
    200: "auth", 300: "auth", 301: "auth", 302: "auth",
    201: "balance",
    202: "bad_number", 207: "bad_number", 209: "bad_number", 214: "bad_number",
    215: "bad_number",
    204: "sender",
    206: "rate_limit", 230: "rate_limit", 231: "rate_limit", 232: "rate_limit",
    233: "rate_limit", 501: "rate_limit", 502: "rate_limit", 503: "rate_limit",
    504: "rate_limit", 505: "rate_limit", 506: "rate_limit", 507: "rate_limit",
    508: "rate_limit",
}
# "Service temporarily unavailable", "server error, repeat the request": nothing was sent.
BUSY = frozenset({220, 500})
# Code 231 is "the same message to this number within a minute".
RETRY_AFTER = {231: 60.0}


def delivery_of(code: int) -> Delivery:
    """A status code's meaning; a code SMS.ru adds later counts as still pending."""
    return DELIVERY.get(code, "pending")


def refusal(code: int, text: str, retry_after: float | None = None) -> SmsRefused:
    """An ``SmsRefused`` for an error code of ``/sms/send``; raises ``Busy`` for "try later"."""
    if code in BUSY:
        raise Busy(f"SMS.ru code {code}: {text}")
    reason = REFUSALS.get(code, "other")
    return SmsRefused(reason, str(code), text, retry_after or RETRY_AFTER.get(code))


def read_send(answer: Answer, to: str, text: str) -> SendResult:
    """The outcome of ``/sms/send`` for recipient ``to`` (digits) from SMS.ru's answer.

    Raises ``Busy`` (nothing sent, try later) or ``NoAnswer`` (an answer that does not say)."""
    if (turned_away := http_outcome(answer, "SMS.ru")) is not None:
        return turned_away
    body = answer.body
    if not isinstance(body, dict):
        raise NoAnswer("SMS.ru answered 200 without a readable body")
    if body.get("status") != "OK":
        return refusal(_code(body), str(body.get("status_text", "")), answer.retry_after)
    entry = (body.get("sms") or {}).get(to)
    if not isinstance(entry, dict):
        raise NoAnswer("SMS.ru answered OK without this number's entry")
    if entry.get("status") != "OK":
        return refusal(_code(entry), str(entry.get("status_text", "")), answer.retry_after)
    if not entry.get("sms_id"):  # accepted, by its word, yet unnamed: maybe sent
        raise NoAnswer("SMS.ru accepted the message without an id")
    return SmsSent(str(entry["sms_id"]), parts(text))


def read_status(answer: Answer, sms_id: str) -> SmsState:
    """A message's state from ``/sms/status``; raises ``ChannelAuthError`` or ``Busy``."""
    body = answer.body
    if answer.status != 200 or not isinstance(body, dict):
        raise Busy(f"SMS.ru /sms/status: HTTP {answer.status}")
    if body.get("status") != "OK":
        code = _code(body)
        if REFUSALS.get(code) == "auth":
            raise ChannelAuthError(f"SMS.ru refused the api_id (code {code})")
        raise Busy(f"SMS.ru /sms/status: code {code}")
    entry = (body.get("sms") or {}).get(sms_id)
    if not isinstance(entry, dict):
        raise Busy("SMS.ru /sms/status answered without this id")
    code = _code(entry)
    return SmsState(sms_id, delivery_of(code), str(code), str(entry.get("status_text", "")),
                    decimal_or_none(entry.get("cost")))


class SmsRu:
    """The SMS.ru adapter (an ``SmsProvider``)."""

    name = "smsru"

    def __init__(
        self,
        *,
        api_id: str,
        sender: str | None = None,
        base_url: str = DEFAULT_URL,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._api_id = api_id
        self.sender = sender
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._session = Session(timeout=timeout, connect_timeout=connect_timeout)

    def __repr__(self) -> str:  # never the api_id
        return f"SmsRu(base_url={self.base_url!r}, sender={self.sender!r})"

    async def send(self, phone_e164: str, text: str) -> SendResult:
        if not is_e164(phone_e164):
            return not_e164(phone_e164)
        to = phone_e164[1:]
        form = {"api_id": self._api_id, "to": to, "msg": text, "json": "1"}
        if self.sender:
            form["from"] = self.sender

        async def attempt() -> SendResult:
            answer = await post_form(self._session.get(), f"{self.base_url}/sms/send", form)
            return read_send(answer, to, text)

        try:
            result = await retrying("SMS.ru /sms/send", attempt, self.retry)
        except NoAnswer as exc:
            log.warning("SMS.ru: no answer to an SMS to %s (%s); it may have been sent",
                        masked(phone_e164), exc)
            raise SmsOutcomeUnknown(f"SMS.ru /sms/send: {exc}") from exc
        log_result("SMS.ru", phone_e164, result)
        return result

    async def status(self, sms_id: str) -> SmsState:
        form = {"api_id": self._api_id, "sms_id": sms_id, "json": "1"}

        async def attempt() -> SmsState:
            answer = await post_form(self._session.get(), f"{self.base_url}/sms/status", form)
            return read_status(answer, sms_id)

        return await retrying("SMS.ru /sms/status", attempt, self.retry,
                              repeatable=(NotSent, Busy, NoAnswer))

    async def close(self) -> None:
        await self._session.close()


def _code(entry: dict[object, object]) -> int:
    return int_or_zero(entry.get("status_code"))

