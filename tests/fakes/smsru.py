"""A local fake of SMS.ru's HTTP API (https://sms.ru/api) for tests.

Speaks its wire format: ``/sms/send`` and ``/sms/status`` take their parameters from the
query or a urlencoded form (as SMS.ru does) and answer JSON when ``json=1``: the top-level
``status``/``status_code`` and, per number or id, ``status``, ``status_code``, ``sms_id`` or
``cost`` and ``status_text``. It checks the api_id (200), the text (203), approved sender
names (204), the balance (201) and the number (202); tests can force any code, answer a bare
HTTP status (429 with ``Retry-After``), take a send and never answer it or cut the
connection after it, move a message's delivery status, and post delivery callbacks
(``data[N]`` entries and ``hash``) to a URL.

Use the ``smsru_fake`` fixture (``from tests.fakes.smsru import smsru_fake_fixture``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from aiohttp import web

from connectors.sms.text import parts
from tests.fakes.sms_server import FakeServer, json_response, post_form

TEXTS = {
    -1: "Сообщение не найдено",
    100: "Сообщение находится в нашей очереди",
    102: "Сообщение отправлено (в пути)",
    103: "Сообщение доставлено",
    104: "Не может быть доставлено: время жизни истекло",
    200: "Неправильный api_id",
    201: "Не хватает средств на лицевом счету",
    202: "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    203: "Нет текста сообщения",
    204: "Имя отправителя не согласовано с администрацией",
    220: "Сервис временно недоступен, попробуйте чуть позже",
    231: "Превышен лимит одинаковых сообщений на этот номер в минуту",
}


@dataclass
class Message:
    sms_id: str
    to: str
    text: str
    sender: str | None
    cost: Decimal
    status_code: int = 100


@dataclass
class SmsRuFake(FakeServer):
    api_id: str = "A3CA597E-3ACF-4E7D-82EE-CF82B52B1A8B"
    senders: set[str] = field(default_factory=lambda: {"SVYAZ"})
    balance: Decimal = Decimal("100.00")
    price: Decimal = Decimal("3.49")  # per part
    messages: dict[str, Message] = field(default_factory=dict)
    _forced: list[tuple[int, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = self.build({"/sms/send": self._send, "/sms/status": self._status})

    # ------------------------------------------------------------------ test controls

    def refuse(self, code: int, *, per_number: bool = False, times: int = 1) -> None:
        """The next ``times`` sends fail with ``code``, in the number's entry or at the top."""
        self._forced.extend([(code, per_number)] * times)

    def deliver(self, sms_id: str, code: int = 103) -> None:
        self.messages[sms_id].status_code = code

    async def emit_status(
        self, url: str, updates: list[tuple[str, int]], *, extra: tuple[str, ...] = (),
        api_id: str | None = None,
    ) -> tuple[int, str]:
        """POST a delivery callback as SMS.ru does: ``data[0]…`` (extra entries first, e.g.
        ``"test\\n<time>"``) and their ``hash``; returns (status, body)."""
        now = int(time.time())
        data = [*extra, *(f"sms_status\n{sms_id}\n{code}\n{now}" for sms_id, code in updates)]
        form = [(f"data[{i}]", entry) for i, entry in enumerate(data)]
        key = self.api_id if api_id is None else api_id
        form.append(("hash", hashlib.sha256((key + "".join(data)).encode()).hexdigest()))
        return await post_form(url, form)

    # ------------------------------------------------------------------ wire

    async def _send(self, request: web.Request, params: dict[str, str]) -> web.Response:
        refused = self._refused(params)
        if refused is not None:
            return json_response(_error(refused))
        to, text = params.get("to", ""), params.get("msg", "")
        if self._forced:
            code, per_number = self._forced.pop(0)
            if not per_number:
                return json_response(_error(code))
            return json_response(self._answer({to: _error(code)}))
        if not (to.isdigit() and 11 <= len(to) <= 15):
            return json_response(self._answer({to: _error(202)}))
        cost = self.price * parts(text)
        if cost > self.balance:
            return json_response(_error(201))
        sms_id = f"202612-{1000001 + len(self.messages)}"
        self.messages[sms_id] = Message(sms_id, to, text, params.get("from"), cost)
        self.balance -= cost
        entry = {"status": "OK", "status_code": 100, "sms_id": sms_id}
        return await self.held(request, json_response(self._answer({to: entry})))

    def _refused(self, params: dict[str, str]) -> int | None:
        if params.get("api_id") != self.api_id:
            return 200
        if not params.get("msg"):
            return 203
        sender = params.get("from")
        return 204 if sender is not None and sender not in self.senders else None

    async def _status(self, request: web.Request, params: dict[str, str]) -> web.Response:
        if params.get("api_id") != self.api_id:
            return json_response(_error(200))
        found: dict[str, object] = {}
        for sms_id in filter(None, params.get("sms_id", "").split(",")):
            message = self.messages.get(sms_id)
            if message is None:
                found[sms_id] = _error(-1)
                continue
            code = message.status_code
            found[sms_id] = {"status": "OK", "status_code": code, "cost": float(message.cost),
                             "status_text": TEXTS.get(code, "")}
        return json_response(self._answer(found))

    def _answer(self, sms: dict[str, object]) -> dict[str, object]:
        return {"status": "OK", "status_code": 100, "sms": sms, "balance": float(self.balance)}


def _error(code: int) -> dict[str, object]:
    return {"status": "ERROR", "status_code": code, "status_text": TEXTS.get(code, "Ошибка")}


@pytest.fixture(name="smsru_fake")
async def smsru_fake_fixture() -> AsyncIterator[SmsRuFake]:
    """A started fake; import ``smsru_fake_fixture`` into a test module to use ``smsru_fake``."""
    fake = SmsRuFake()
    await fake.start(fake.app)
    yield fake
    await fake.stop()
