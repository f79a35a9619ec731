"""A local fake of SMSC.ru's HTTP API (https://smsc.ru/api/http/) for tests.

Speaks its wire format: ``/sys/send.php`` and ``/sys/status.php`` take their parameters
from the query or a urlencoded form (SMSC accepts both) and answer JSON with ``fmt=3``:
``{"id", "cnt", "cost", "balance"}`` (cost and balance with ``cost=3``) or ``{"error",
"error_code"}`` (with the ``id`` for errors 3, 6, 7, 8); a status ``{"status", "last_date",
"last_timestamp"}``, ``-3`` for a message it does not have. It checks the login and password
(2), the text (1), approved sender names (6), the number (7), the balance (3) and the same
request twice within a minute (9); honours a client-chosen ``id``. Tests can force any error
code, answer a bare HTTP status (429 with ``Retry-After``), take a send and never answer it
or cut the connection after it, move a message's status, and call a status handler as SMSC
does (``emit_status``: one form per change, ``md5`` of ``id:phone:status:<password>``).

Use the ``smsc_fake`` fixture (``from tests.fakes.smsc import smsc_fake_fixture``).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from aiohttp import web

from connectors.sms.text import parts
from tests.fakes.sms_server import FakeServer, json_response, post_form

ERRORS = {
    1: "parameters error",
    2: "authorise error",
    3: "no money",
    4: "IP blocked",
    6: "message is denied",
    7: "invalid number",
    8: "can't deliver",
    9: "duplicate request, wait a minute",
}
_NUMBER = re.compile(r"\+?\d{11,15}")


@dataclass
class Message:
    message_id: int
    phone: str  # digits, as SMSC keeps it
    text: str
    sender: str | None
    cost: Decimal
    status: int = 0
    at: float = field(default_factory=time.time)


@dataclass
class SmscFake(FakeServer):
    login: str = "svyaz-test"
    password: str = "pa55-w0rd-smsc"
    senders: set[str] = field(default_factory=lambda: {"SVYAZ"})
    balance: Decimal = Decimal("100.00")
    price: Decimal = Decimal("2.95")  # per part
    duplicate_window: float = 60.0
    messages: list[Message] = field(default_factory=list)
    _forced: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = self.build({"/sys/send.php": self._send, "/sys/status.php": self._status})

    # ------------------------------------------------------------------ test controls

    def refuse(self, code: int, *, times: int = 1) -> None:
        """The next ``times`` sends fail with ``error_code`` ``code``."""
        self._forced.extend([code] * times)

    def set_status(self, message_id: int, status: int) -> None:
        next(m for m in self.messages if m.message_id == message_id).status = status

    async def emit_status(
        self, url: str, message_id: int, phone: str, status: int, *,
        password: str | None = None, signed: bool = True,
    ) -> tuple[int, str]:
        """Call a status handler as SMSC does for one change; returns (status, body)."""
        digits = phone.lstrip("+")
        now = int(time.time())
        form = [("id", str(message_id)), ("phone", digits), ("status", str(status)),
                ("time", time.strftime("%d.%m.%Y %H:%M:%S", time.localtime(now))),
                ("ts", str(now)), ("err", "0"), ("cnt", "1"), ("type", "0")]
        if signed:
            key = self.password if password is None else password
            line = f"{message_id}:{digits}:{status}:{key}"
            form.append(("md5", hashlib.md5(line.encode()).hexdigest()))  # noqa: S324
        return await post_form(url, form)

    # ------------------------------------------------------------------ wire

    async def _send(self, request: web.Request, params: dict[str, str]) -> web.Response:
        if (params.get("login"), params.get("psw")) != (self.login, self.password):
            return _error(2)
        text, phone = params.get("mes", ""), params.get("phones", "")
        message_id = int(params.get("id") or len(self.messages) + 1)
        code = self._refused(params, text, phone)
        if code is not None:
            return _error(code, message_id if code in (3, 6, 7, 8) else None)
        cost = self.price * parts(text)
        if cost > self.balance:
            return _error(3, message_id)
        self.messages.append(Message(message_id, phone.lstrip("+"), text, params.get("sender"),
                                     cost))
        self.balance -= cost
        answer: dict[str, object] = {"id": message_id, "cnt": parts(text)}
        if params.get("cost") in ("2", "3"):
            answer["cost"] = f"{cost:.2f}"
        if params.get("cost") == "3":
            answer["balance"] = f"{self.balance:.2f}"
        return await self.held(request, json_response(answer))

    def _refused(self, params: dict[str, str], text: str, phone: str) -> int | None:
        if self._forced:
            return self._forced.pop(0)
        if not text or params.get("fmt") != "3" or params.get("charset") != "utf-8":
            return 1
        sender = params.get("sender")
        if sender is not None and sender not in self.senders:
            return 6
        if not _NUMBER.fullmatch(phone):
            return 7
        now, digits = time.time(), phone.lstrip("+")
        duplicate = any(m.phone == digits and m.text == text and now - m.at < self.duplicate_window
                        for m in self.messages)
        return 9 if duplicate else None

    async def _status(self, request: web.Request, params: dict[str, str]) -> web.Response:
        if (params.get("login"), params.get("psw")) != (self.login, self.password):
            return _error(2)
        phone, raw_id = params.get("phone", "").lstrip("+"), params.get("id", "")
        if not raw_id.isdigit() or not phone:
            return _error(1)
        found = next((m for m in self.messages
                      if m.message_id == int(raw_id) and m.phone == phone), None)
        if found is None:
            return json_response({"status": -3, "last_date": "", "last_timestamp": 0})
        stamp = int(found.at)
        return json_response({"status": found.status, "last_timestamp": stamp,
                              "last_date": time.strftime("%d.%m.%Y %H:%M:%S",
                                                         time.localtime(stamp))})


def _error(code: int, message_id: int | None = None) -> web.Response:
    body: dict[str, object] = {"error": ERRORS.get(code, "error"), "error_code": code}
    if message_id is not None:
        body["id"] = message_id
    return json_response(body)


@pytest.fixture(name="smsc_fake")
async def smsc_fake_fixture() -> AsyncIterator[SmscFake]:
    """A started fake; import ``smsc_fake_fixture`` into a test module to use ``smsc_fake``."""
    fake = SmscFake()
    await fake.start(fake.app)
    yield fake
    await fake.stop()
