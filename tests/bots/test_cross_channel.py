"""One dialogue across three channels, on the real app with the VK and MAX platform fakes.

A customer starts ``booking`` in VK, asks to continue in MAX and opens the deep link there
(``bot_started`` with the payload) and confirms the merge with the button, answers in MAX,
moves to the web chat with the 6-digit code (confirmed too) and finishes the booking there:
one customer, one state, one history, reminders once.
Then a reminder is delivered on the most recently active channel and fails over when a
platform refuses, and reaches the owner's hook when every channel does.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.app import EDGE, build_app
from bots.config import Settings
from bots.linking import LINK_YES
from connectors.vk.parse import BUTTON_KEY
from flows.types import TimerEvent
from storage.store import Store
from tests.bookable import bookable_day
from tests.fakes import max_wire
from tests.fakes.max import MaxFake, start_fake
from tests.fakes.vk import GROUP_ID, TOKEN, FakeVk

ROOT = Path(__file__).resolve().parents[2]
ZONE_NAME = "Europe/Moscow"
VK_SECRET = "vk-secret"
MAX_SECRET = "max-secret"
ORIGIN = "http://127.0.0.1:8080"
OWNER_MAX_USER = 999


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeVk, MaxFake]]:
    vk = await FakeVk().start()
    mx, runner = await start_fake()
    yield vk, mx
    mx._wake.set()
    await runner.cleanup()
    await vk.close()


@pytest.fixture
async def owner_hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received
    await runner.cleanup()


@pytest.fixture
async def bot(
    fakes: tuple[FakeVk, MaxFake], owner_hook: tuple[str, list[dict[str, Any]]],
    redis_url: str, bot_prefix: str, tmp_path: Path,
) -> AsyncIterator[TestClient]:
    vk, mx = fakes
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, redis_url=redis_url, bot=bot_prefix, flows=ROOT / "flows_examples",
        data_dir=tmp_path, timezone=ZONE_NAME,
        vk_token=TOKEN, vk_group_id=GROUP_ID, vk_mode="callback", vk_secret=VK_SECRET,
        vk_confirmation="c0nfirm", vk_api_url=vk.api_url,
        max_token=mx.token, max_mode="webhook", max_webhook_secret=MAX_SECRET,
        max_api_url=mx.url, max_bot_username=mx.username, owner_webhook=owner_hook[0],
        owner_max_chat=str(OWNER_MAX_USER),
    )
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        yield client


async def until(predicate: Callable[[], Any], timeout: float = 8.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


def _store(client: TestClient) -> Store:
    store = client.app[EDGE].parts.store
    assert store is not None
    return store


class Customer:
    """Drives one person's three accounts against the bot and its platform fakes."""

    def __init__(self, client: TestClient, vk: FakeVk, mx: MaxFake) -> None:
        self.client, self.vk, self.mx = client, vk, mx
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.web_replies: list[dict[str, Any]] = []

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def vk_says(self, text: str, expect: str) -> str:
        before = len(self.vk.sent)
        answers = await self.vk.push_callback(
            self.url("/vk/callback"), self.vk.message_new(501, text), secret=VK_SECRET)
        assert answers[-1] == (200, "ok")
        sent = await until(lambda: [m for m in self.vk.sent[before:] if expect in m.message])
        return json.dumps(sent[-1].keyboard, ensure_ascii=False)

    async def max_push(self, update: dict[str, Any], expect: str) -> str:
        before = len(self.mx.sent)
        status, _ = await self.mx.push(self.url("/max/webhook"), update, secret=MAX_SECRET)
        assert status == 200
        sent = await until(lambda: [s for s in self.mx.sent[before:]
                                    if expect in (s.body.get("text") or "")])
        return str(sent[-1].body.get("text"))

    async def web_opens(self, expect: str) -> str:
        """A new visitor: hello, then opens the chat (the bot greets)."""
        self.ws = await self.client.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
        await self.ws.send_json({"type": "hello", "session": None})
        return await self.web_says({"type": "open"}, expect)

    async def web_says(self, frame: dict[str, Any], expect: str) -> str:
        if self.ws is None:
            self.ws = await self.client.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
        await self.ws.send_json(frame)
        while True:
            got = await self.ws.receive_json(timeout=8)
            if got["type"] == "reply" and expect in got["text"]:
                return str(got["text"])


async def test_booking_across_vk_max_and_web(
    bot: TestClient, fakes: tuple[FakeVk, MaxFake], owner_hook: tuple[str, list[Any]],
) -> None:
    vk, mx = fakes
    me = Customer(bot, vk, mx)
    day = bookable_day()

    await me.vk_says("записаться", "Какую услугу")
    await me.vk_says("Стрижка", "К какому мастеру")
    keyboard = await me.vk_says("продолжить в MAX", "код")
    link = re.search(r"https://max\.ru/svyaz_test_bot\?start=link-([A-Za-z0-9_-]+)", keyboard)
    assert link, keyboard

    await me.max_push(max_wire.bot_started(601, f"link-{link.group(1)}"), "Объединить")
    # issue 13: nothing is merged until the person in MAX confirms with the button
    assert await _store(bot).identities.customer_of("max:601") != await _store(
        bot).identities.customer_of("vk:501")
    await me.max_push(max_wire.callback(601, LINK_YES), "К какому мастеру")
    await me.max_push(max_wire.message_created(601, "Анна"), "На какой день")
    await me.max_push(max_wire.message_created(601, day), "Свободное время")
    await me.max_push(max_wire.message_created(601, "10:00"), "согласны")
    await me.max_push(max_wire.message_created(601, "да"), "Как вас зовут")
    offer = await me.max_push(max_wire.message_created(601, "продолжить на сайте"), "код")
    code = re.search(r"код (\d{6})", offer)
    assert code, offer

    await me.web_opens("Чем могу помочь")
    await me.web_says({"type": "text", "text": code.group(1), "id": "w1"}, "Объединить")
    await me.web_says({"type": "button", "button": LINK_YES, "id": "w1b"}, "Как вас зовут")
    await me.web_says({"type": "text", "text": "Оля", "id": "w2"}, "телефона")
    await me.web_says({"type": "text", "text": "+7 999 123-45-67", "id": "w3"}, "Всё верно")
    done = await me.web_says({"type": "text", "text": "да", "id": "w4"}, "Готово")
    assert "10:00" in done
    assert me.ws is not None
    await me.ws.close()

    services = bot.app[EDGE].parts
    store, reminders = services.store, services.reminders
    assert store is not None
    assert reminders is not None
    customer = await store.identities.customer_of("vk:501")
    assert customer is not None
    assert await store.identities.customer_of("max:601") == customer
    accounts = [a.account for a in await store.identities.accounts(customer)]
    assert len(accounts) == 3
    assert accounts[0].startswith("web:")  # most recently active first
    history = await store.history.read(customer, count=500)
    assert {e.channel for e in history if e.direction == "in"} == {"vk", "max", "web"}
    said = [e.text for e in history if e.direction == "in"]
    assert said.index("Стрижка") < said.index("Анна") < said.index("Оля")
    profile = await store.profiles.get(customer)
    assert profile.phone == "+79991234567"
    jobs = [(c, r.key if r else None) for c, r, _ in await reminders.scheduled()]
    assert sorted(jobs) == [(customer, "visit-24h"), (customer, "visit-2h")]

    # A reminder goes to the most recently active channel that works: web is gone (no socket)
    # so it fails over to MAX; with MAX blocked too, to VK; with all refusing, the owner.
    def reminded(sent: list[str]) -> int:
        return sum("Напоминаем" in text for text in sent)

    await bot.app[EDGE].inject(customer, TimerEvent("visit_reminder", "visit-2h"), event_id="r1")
    await until(lambda: reminded([s.body.get("text") or "" for s in mx.sent]) == 1)
    mx.blocked.add(601)
    await bot.app[EDGE].inject(customer, TimerEvent("visit_reminder", "visit-2h"), event_id="r2")
    await until(lambda: reminded([m.message for m in vk.sent]) == 1)
    vk.block(501)
    await bot.app[EDGE].inject(customer, TimerEvent("visit_reminder", "visit-2h"), event_id="r3")
    notes = await until(lambda: owner_hook[1])
    assert notes[0]["event"] == "undeliverable"
    assert notes[0]["customer"] == customer
    assert reminded([s.body.get("text") or "" for s in mx.sent]) == 1
    history = await store.history.read(customer, count=500)
    assert [e.channel for e in history if "Напоминаем" in e.text] == ["max", "vk"]
    assert any(e.note.startswith("undeliverable") for e in history)
    metrics = (await (await bot.get("/metrics")).text())
    assert 'svyaz_delivery_failovers_total{channel="web"} 3.0' in metrics
    assert "svyaz_reminders_failed_total 1.0" in metrics


async def test_vk_callback_confirmation_and_forged_secret(
    bot: TestClient, fakes: tuple[FakeVk, MaxFake],
) -> None:
    vk, _ = fakes
    url = str(bot.make_url("/vk/callback"))
    assert await vk.confirm(url, secret=VK_SECRET) == (200, "c0nfirm")
    answers = await vk.push_callback(url, vk.message_new(777, "привет"), secret="forged")
    assert answers[0][0] == 403
    await asyncio.sleep(0.3)
    assert vk.sent == []


async def test_handoff_reaches_the_owner_in_max_and_by_webhook(
    bot: TestClient, fakes: tuple[FakeVk, MaxFake], owner_hook: tuple[str, list[Any]],
) -> None:
    vk, mx = fakes
    me = Customer(bot, vk, mx)
    await me.vk_says("привет", "Чем могу помочь")
    await me.vk_says("Позвать администратора", "администратору")
    note = await until(lambda: [s for s in mx.sent if s.user_id == OWNER_MAX_USER])
    assert "Клиент просит оператора" in (note[0].body.get("text") or "")
    hooks = await until(lambda: owner_hook[1])
    assert hooks[0]["event"] == "handoff"
    before = len(vk.sent)
    await vk.push_callback(str(bot.make_url("/vk/callback")), vk.message_new(501, "ау"),
                           secret=VK_SECRET)
    await asyncio.sleep(0.5)
    assert len(vk.sent) == before  # quiet while an operator has the conversation


async def test_a_vk_callback_button_is_acknowledged_and_answered(
    bot: TestClient, fakes: tuple[FakeVk, MaxFake],
) -> None:
    vk, _ = fakes
    me = Customer(bot, vk, fakes[1])
    await me.vk_says("привет", "Чем могу помочь")
    before = len(vk.sent)
    press = vk.message_event(501, {BUTTON_KEY: "booking"}, callback_id="cb-1")
    await vk.push_callback(me.url("/vk/callback"), press, secret=VK_SECRET)
    await until(lambda: [m for m in vk.sent[before:] if "Какую услугу" in m.message])
    answers = await until(lambda: vk.calls_of("messages.sendMessageEventAnswer"))
    assert answers[0].params["event_id"] == "cb-1"
