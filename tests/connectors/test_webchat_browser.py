"""The widget in a real browser: Debian's headless Chromium driven by Playwright.

The WebChat runs on a loopback port with a small scripted sink standing in for the runtime
(a test harness of the connector: it greets with buttons, asks two questions, echoes; like the
runtime, it has no history for a session that never wrote, and its start turn answers with
the greeting the widget was shown on open). The full flow through ``svyaz run`` is tested by
the runtime's own browser test.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Dialog, Page, async_playwright, expect

from connectors.base import Unavailable, Undeliverable
from connectors.texts import WEBCHAT_ERRORS
from connectors.webchat import WebChat, WebHistoryItem
from flows.types import Button, ButtonEvent, Inbound, Reply, StartEvent, TextEvent

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS = "<img src=x onerror=alert(1)>"
UNRECORDED = "этого сообщения не запишут"  # the scripted sink answers it with Unavailable

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt install chromium"
    ),
]

GREETING = Reply(
    "Здравствуйте! Я бот салона. Что вас интересует?",
    (
        Button("book", "Записаться"),
        Button("ask", "Задать вопрос"),
        Button("site", "Наш сайт", url="https://example.org/"),
    ),
)


@dataclass
class ScriptedDialogue:
    """Plays the runtime's part: records history, answers from a fixed script, delivers."""

    chat: WebChat | None = None
    history: dict[str, list[WebHistoryItem]] = field(default_factory=dict)
    step: dict[str, str] = field(default_factory=dict)
    starts: list[str | None] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    duplicates: list[Inbound] = field(default_factory=list)
    counter: int = 0

    async def read_history(self, session_id: str) -> list[WebHistoryItem] | None:
        found = self.history.get(session_id)
        return None if found is None else list(found)

    def greeting(self) -> tuple[Reply, ...]:
        return (GREETING,)

    def seed(self, session_id: str) -> None:
        """The session has a customer, greeted (as if it had written before)."""
        self.history[session_id] = [WebHistoryItem("out", GREETING.text, GREETING.buttons)]
        self.step[session_id] = "menu"

    async def sink(self, inbound: Inbound) -> None:
        if inbound.event == TextEvent(UNRECORDED):
            raise Unavailable("storage down")
        if inbound.event_id in self.seen:
            self.duplicates.append(inbound)
            return
        self.seen.add(inbound.event_id)
        sid = inbound.user_id
        if said := self._customer_text(sid, inbound):
            self.history.setdefault(sid, []).append(WebHistoryItem("in", said))
        reply = self._answer(sid, inbound)
        self.history.setdefault(sid, []).append(
            WebHistoryItem("out", reply.text, reply.buttons, request_phone=reply.request_phone))
        self.counter += 1
        assert self.chat is not None
        with contextlib.suppress(Undeliverable):  # in the history; shown on the next visit
            await self.chat.send(sid, reply, message_key=f"m{self.counter}")

    def _customer_text(self, sid: str, inbound: Inbound) -> str | None:
        event = inbound.event
        if isinstance(event, TextEvent):
            return event.text
        if isinstance(event, ButtonEvent):
            last = self.history[sid][-1]
            return next(b.text for b in last.buttons if b.id == event.button)
        return None

    def _answer(self, sid: str, inbound: Inbound) -> Reply:
        event = inbound.event
        step = self.step.get(sid)
        if isinstance(event, StartEvent):
            self.starts.append(event.payload)
            self.step[sid] = "menu"
            return GREETING
        if isinstance(event, ButtonEvent) and event.button == "book":
            self.step[sid] = "name"
            return Reply("Как вас зовут?")
        if isinstance(event, ButtonEvent) and event.button == "ask":
            self.step[sid] = "question"
            return Reply("Напишите ваш вопрос.")
        text = event.text if isinstance(event, TextEvent) else ""
        if step == "name":
            self.step[sid] = "phone"
            return Reply(f"Приятно познакомиться, {text}! Оставьте телефон.", request_phone=True)
        if step == "phone":
            self.step[sid] = "menu"
            return Reply(f"Спасибо! Перезвоним на {text}.", GREETING.buttons)
        return Reply(f"Вы написали: {text}")


@dataclass
class Site:
    url: str
    chat: WebChat
    dialogue: ScriptedDialogue


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    dialogue = ScriptedDialogue()
    chat = WebChat(
        secret_key=b"browser-test-key-0123456789abcdef",
        sink=dialogue.sink,
        history=dialogue.read_history,
        greeting=dialogue.greeting,
        allowed_origins=(),
        public_url="http://127.0.0.1:8080",
    )
    dialogue.chat = chat
    app = web.Application()
    app.add_routes(chat.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    await chat.start()
    port = runner.addresses[0][1]
    yield Site(f"http://127.0.0.1:{port}", chat, dialogue)
    await chat.stop()
    await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        await chromium.close()


async def session_of(page: Page) -> str:
    token = await page.evaluate("localStorage.getItem('svyaz.chat.session')")
    assert isinstance(token, str)
    return token.split(".")[0]


def watch_dialogs(page: Page) -> list[str]:
    fired: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        fired.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    return fired


async def test_a_whole_dialogue_with_reload_and_literal_html(site: Site, browser: Browser) -> None:
    page = await browser.new_page()
    dialogs = watch_dialogs(page)
    await page.goto(f"{site.url}/chat")
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Здравствуйте! Я бот салона.")
    link = log.get_by_role("link", name="Наш сайт")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))

    await log.get_by_role("button", name="Записаться").click()
    await expect(log).to_contain_text("Как вас зовут?")
    await expect(log.get_by_role("button", name="Записаться")).to_be_hidden()
    message = page.get_by_label("Сообщение")
    await message.fill("Анна")
    await message.press("Enter")
    await expect(log).to_contain_text("Приятно познакомиться, Анна!")

    phone = page.get_by_label("Номер телефона")
    await expect(phone).to_be_visible()
    assert await phone.get_attribute("type") == "tel"
    await phone.fill("+7 999 123-45-67")
    await page.get_by_role("button", name="Отправить номер").click()
    await expect(log).to_contain_text("Спасибо! Перезвоним на +7 999 123-45-67.")
    await expect(phone).to_be_hidden()

    await message.fill(XSS)
    await page.get_by_role("button", name="Отправить", exact=True).click()
    await expect(log).to_contain_text(f"Вы написали: {XSS}")
    await assert_no_injection(page, dialogs)

    await page.reload()
    log = page.get_by_role("log")
    await expect(log).to_contain_text(f"Вы написали: {XSS}")
    for said in ("Здравствуйте!", "Записаться", "Анна", "Как вас зовут?", "+7 999 123-45-67"):
        await expect(log).to_contain_text(said)
    await expect(page.get_by_label("Сообщение")).to_be_enabled()
    await assert_no_injection(page, dialogs)
    assert site.dialogue.starts == [None]  # the reload resumed; no second greeting
    await page.screenshot(path="/tmp/webchat.png")


async def assert_no_injection(page: Page, dialogs: list[str]) -> None:
    assert await page.locator(".svz-root img").count() == 0
    assert await page.locator("img").count() == 0
    assert dialogs == []


async def test_no_connection_is_shown_and_sending_disabled(site: Site, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.url}/chat")
    status = page.get_by_role("status")
    message = page.get_by_label("Сообщение")
    await expect(message).to_be_enabled()
    await site.chat.stop()
    await expect(status).to_contain_text("Нет соединения")
    await expect(message).to_be_disabled()
    await site.chat.start()
    await expect(message).to_be_enabled(timeout=20_000)
    await expect(status).to_have_text("")


async def test_link_token_in_the_url_is_sent_once_and_removed(site: Site, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.url}/chat#link=Tok_en-123")
    await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
    assert "link=" not in page.url
    assert site.dialogue.starts == ["link-Tok_en-123"]
    await page.reload()
    await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
    await expect(page.get_by_label("Сообщение")).to_be_enabled()
    assert site.dialogue.starts == ["link-Tok_en-123"]


async def test_phone_layout_fills_the_screen(site: Site, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 375, "height": 667})
    await page.goto(f"{site.url}/chat")
    await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
    box = await page.locator(".svz-panel").bounding_box()
    assert box is not None
    assert box["width"] == 375
    assert box["height"] == 667


async def test_recent_messages_are_resent_after_a_reconnect_and_deduped(
    site: Site, browser: Browser
) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.url}/chat")
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Здравствуйте!")
    message = page.get_by_label("Сообщение")
    await message.fill("Добрый день")
    await message.press("Enter")
    await expect(log).to_contain_text("Вы написали: Добрый день")
    await site.chat.stop()
    await expect(message).to_be_disabled()
    await site.chat.start()
    await expect(message).to_be_enabled(timeout=20_000)
    await expect(page.get_by_role("status")).to_have_text("")
    for _ in range(50):  # the re-sent frame reaches the sink right after the welcome
        if site.dialogue.duplicates:
            break
        await asyncio.sleep(0.1)
    (again,) = site.dialogue.duplicates
    assert again.event == TextEvent("Добрый день")
    assert await log.locator(".svz-in").filter(has_text="Добрый день").count() == 1


async def test_a_button_from_history_is_pressed_as_a_button(site: Site, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.url}/chat")
    await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
    site.dialogue.seed(await session_of(page))
    await page.reload()
    log = page.get_by_role("log")
    choice = log.get_by_role("button", name="Задать вопрос")
    await expect(choice).to_be_enabled()
    await choice.click()
    await expect(log).to_contain_text("Напишите ваш вопрос.")
    await expect(choice).to_be_hidden()


async def test_a_history_button_without_id_is_sent_as_its_label(
    site: Site, browser: Browser
) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.url}/chat")
    await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
    site.dialogue.seed(await session_of(page))
    for items in site.dialogue.history.values():  # as history kept them before ids were stored
        items[:] = [
            WebHistoryItem(i.direction, i.text, tuple(Button("", b.text) for b in i.buttons))
            for i in items
        ]
    await page.reload()
    log = page.get_by_role("log")
    choice = log.get_by_role("button", name="Задать вопрос")
    await expect(choice).to_be_enabled()
    await choice.click()
    await expect(log).to_contain_text("Вы написали: Задать вопрос")
    await expect(choice).to_be_hidden()


async def test_an_error_frame_shows_the_servers_own_text(
    site: Site, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The widget keeps no copy of the error texts: it shows what the server says
    (connectors/texts.py), so a text changed there is what the visitor reads."""
    monkeypatch.setitem(WEBCHAT_ERRORS, "unavailable", "Сообщение не сохранилось, повторите.")
    page = await browser.new_page()
    await page.goto(f"{site.url}/chat")
    await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
    message = page.get_by_label("Сообщение")
    await message.fill(UNRECORDED)
    await message.press("Enter")
    await expect(page.get_by_role("alert")).to_have_text(
        "Не отправлено: Сообщение не сохранилось, повторите.")
