"""SMSC.ru (https://smsc.ru/api/http/): send, delivery status, and what its codes mean.

Wire: ``POST <base>/sys/send.php`` with the form ``login, psw, phones, mes, fmt=3 (JSON),
charset=utf-8, cost=3`` (the answer then carries the parts and the cost), ``id`` and
``sender`` when set; ``POST <base>/sys/status.php`` with ``login, psw, phone, id, fmt=3,
charset=utf-8``. A send answers ``{"id", "cnt", "cost", "balance"}`` or ``{"error",
"error_code"}``; a status ``{"status", "last_date", "last_timestamp", "err"?}``. SMSC accepts
GET too; POST keeps the password out of URLs and access logs.

SMSC lets the client choose a message's id (1..2147483647), and finds a message by number and
id. The adapter picks a random id before sending, so a send whose answer was lost
(``SmsOutcomeUnknown``) names its id and ``status`` tells whether SMSC has it (``not_found``
once the request has surely arrived means it was not accepted). The ``sms_id`` svyaz keeps is
``<id>:<phone>`` because a status lookup needs both; logs show only the number's last digits.

Must not: log the login, the password, a phone number (the last two digits at most) or a text.
"""

from __future__ import annotations

import logging
import secrets

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

DEFAULT_URL = "https://smsc.ru"
MAX_ID = 2_147_483_647

# Send error codes (``error_code``); 1 (bad parameters) and 5 (bad date) are ``other``.
REFUSALS: dict[int, RefusalReason] = {
    2: "auth",  # wrong login or password, or an IP not allowed
    3: "balance",
    4: "rate_limit",  # the IP is blocked for a while after too many errors
    6: "sender",  # forbidden by the text or by the sender name
    7: "bad_number",  # a malformed number
    8: "bad_number",  # cannot be delivered to this number
    9: "rate_limit",  # the same request twice within a minute, or too many at once
}
RETRY_AFTER = {9: 60.0}

# Status codes (``status``).
DELIVERY: dict[int, Delivery] = {
    -3: "not_found",  # no message with this id for this number
    -2: "failed",  # stopped
    -1: "pending",  # waiting to be sent
    0: "pending",  # passed to the operator
    1: "delivered",
    2: "delivered",  # read
    3: "failed",  # expired
    4: "delivered",  # its link was opened
    20: "failed",  # cannot be delivered
    22: "failed",  # wrong number
    23: "failed",  # forbidden
    24: "failed",  # not enough money
    25: "failed",  # unreachable number
}
STATUS_TEXT = {
    -3: "Сообщение не найдено", -2: "Остановлено", -1: "Ожидает отправки",
    0: "Передано оператору", 1: "Доставлено", 2: "Прочитано", 3: "Просрочено",
    4: "Нажата ссылка", 20: "Невозможно доставить", 22: "Неверный номер", 23: "Запрещено",
    24: "Недостаточно средств", 25: "Недоступный номер",
}


def sms_id_of(message_id: object, phone_e164: str) -> str:
    return f"{message_id}:{phone_e164}"


def split_sms_id(sms_id: str) -> tuple[str, str]:
    """``(id, phone)`` from ``<id>:<phone>``; ValueError for anything else."""
    message_id, sep, phone = sms_id.partition(":")
    if not (sep and message_id.isdigit() and is_e164(phone)):
        raise ValueError("an SMSC sms_id is <id>:<E.164 phone>")
    return message_id, phone


def read_send(answer: Answer, message_id: int, phone: str) -> SendResult:
    """The outcome of ``send.php`` from SMSC's answer; raises ``NoAnswer`` when it does not say."""
    if (turned_away := http_outcome(answer, "SMSC")) is not None:
        return turned_away
    body = answer.body
    if not isinstance(body, dict):
        raise NoAnswer("SMSC answered 200 without a readable body")
    if "error_code" in body:
        code = int_or_zero(body.get("error_code"))
        reason = REFUSALS.get(code, "other")
        return SmsRefused(reason, str(code), str(body.get("error", "")),
                          answer.retry_after or RETRY_AFTER.get(code))
    if "cnt" not in body:
        raise NoAnswer("SMSC answered without a count or an error")
    parts = int_or_zero(body.get("cnt")) or 1
    accepted_id = body.get("id", message_id)  # SMSC echoes the id the client chose
    return SmsSent(sms_id_of(accepted_id, phone), parts, decimal_or_none(body.get("cost")))


def read_status(answer: Answer, sms_id: str) -> SmsState:
    """A message's state from ``status.php``; raises ``ChannelAuthError`` or ``Busy``."""
    body = answer.body
    if answer.status != 200 or not isinstance(body, dict):
        raise Busy(f"SMSC status.php: HTTP {answer.status}")
    if "error_code" in body:
        code = int_or_zero(body.get("error_code"))
        if code == 2:
            raise ChannelAuthError("SMSC refused the login or password (error 2)")
        raise Busy(f"SMSC status.php: error {code}")
    if "status" not in body:
        raise Busy("SMSC status.php answered without a status")
    code = int_or_zero(body.get("status"))
    text = STATUS_TEXT.get(code, "")
    if body.get("err"):
        text = f"{text} (err {body['err']})".strip()
    return SmsState(sms_id, DELIVERY.get(code, "pending"), str(code), text)


class Smsc:
    """The SMSC.ru adapter (an ``SmsProvider``)."""

    name = "smsc"

    def __init__(
        self,
        *,
        login: str,
        password: str,
        sender: str | None = None,
        base_url: str = DEFAULT_URL,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._credentials = {"login": login, "psw": password}
        self.sender = sender
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._session = Session(timeout=timeout, connect_timeout=connect_timeout)

    def __repr__(self) -> str:  # never the login or the password
        return f"Smsc(base_url={self.base_url!r}, sender={self.sender!r})"

    async def send(self, phone_e164: str, text: str) -> SendResult:
        if not is_e164(phone_e164):
            return not_e164(phone_e164)
        message_id = secrets.randbelow(MAX_ID) + 1
        # "+" keeps SMSC from "correcting" the number; the id makes a lost answer resolvable.
        form = {**self._credentials, "phones": phone_e164, "mes": text, "fmt": "3",
                "charset": "utf-8", "cost": "3", "id": str(message_id)}
        if self.sender:
            form["sender"] = self.sender

        async def attempt() -> SendResult:
            answer = await post_form(self._session.get(), f"{self.base_url}/sys/send.php", form)
            return read_send(answer, message_id, phone_e164)

        try:
            result = await retrying("SMSC send.php", attempt, self.retry)
        except NoAnswer as exc:
            log.warning("SMSC: no answer to SMS %s to %s (%s); it may have been sent",
                        message_id, masked(phone_e164), exc)
            raise SmsOutcomeUnknown(f"SMSC send.php: {exc}",
                                    sms_id=sms_id_of(message_id, phone_e164)) from exc
        log_result("SMSC", phone_e164, result, shown_id=str(message_id))
        return result

    async def status(self, sms_id: str) -> SmsState:
        message_id, phone = split_sms_id(sms_id)
        form = {**self._credentials, "phone": phone, "id": message_id, "fmt": "3",
                "charset": "utf-8"}

        async def attempt() -> SmsState:
            answer = await post_form(self._session.get(), f"{self.base_url}/sys/status.php",
                                     form)
            return read_status(answer, sms_id)

        return await retrying("SMSC status.php", attempt, self.retry,
                              repeatable=(NotSent, Busy, NoAnswer))

    async def close(self) -> None:
        await self._session.close()

