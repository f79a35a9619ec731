"""Done means (issue 15), for a MAX customer (through the MAX fake, real maxapi client,
polling), with the desk in a real Chromium: the hand-off shows on the desk live; the operator
takes it and answers; the customer's MAX chat gets the answer signed with the operator's name;
handed back, the bot answers the next message. Then the same answered from the owner's own
MAX chat: the owner's reply to the note reaches the customer signed, the desk shows it live as
that person's message, and «/бот» hands back."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from desk_browser import BROWSER_MARKS, Served, browser_fixture, serve  # noqa: F401
from desk_client import HANDED, PASSWORD, add_operator
from playwright.async_api import Browser, Page, expect

from storage.embedded import EmbeddedRedis
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake

pytestmark = BROWSER_MARKS
LIVE = 15_000  # ms: the desk polls every 3 s
OWNER, CUSTOMER = 900, 77


@pytest.fixture
def redis_url(embedded_redis: EmbeddedRedis) -> str:
    """The embedded Redis only (as test_desk_browser): no Redis behaviour is under test."""
    return embedded_redis.url


@pytest.fixture
async def served(redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake,
                 ) -> AsyncIterator[Served]:
    """The desk with «Ольга», MAX polling the fake, the owner's MAX chat set."""
    async with serve(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                     max_mode="polling", max_api_url=max_fake.url,
                     owner_max_chat=str(OWNER)) as (app, client, url):
        await add_operator(app, "Ольга")
        yield app, client, url


def _to(fake: MaxFake, user: int) -> list[str]:
    return [str(s.body.get("text", "")) for s in fake.sent if s.user_id == user]


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def _desk(browser: Browser, url: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    await page.goto(f"{url}/desk/")
    await page.get_by_label("Имя").fill("Ольга")
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await expect(page.locator("#waiting-count")).to_have_text("0")
    return page


async def _handed_off(desk: Page, max_fake: MaxFake) -> None:
    """The MAX customer asks for a person; the desk shows it live and opens it."""
    max_fake.enqueue(w.bot_started(CUSTOMER), w.message_created(CUSTOMER, "Позвать администратора"))
    await _until(lambda: any(t.startswith(HANDED) for t in _to(max_fake, CUSTOMER)),
                 "the hand-off was never said")
    await expect(desk.locator("#waiting-count")).to_have_text("1", timeout=LIVE)
    row = desk.locator(".row.state-waiting")
    await expect(row).to_contain_text("MAX")
    await row.get_by_role("link").click()


async def test_a_max_customer_answered_from_the_desk_in_a_browser(
    served: Served, browser: Browser, max_fake: MaxFake,
) -> None:
    _, _, url = served
    desk = await _desk(browser, url)
    await _handed_off(desk, max_fake)
    await desk.get_by_role("button", name="Взять").click()
    await desk.get_by_placeholder("Ваш ответ клиенту").fill("Здравствуйте! Чем помочь?")
    await desk.get_by_role("button", name="Отправить").click()
    await _until(lambda: "Ольга: Здравствуйте! Чем помочь?" in _to(max_fake, CUSTOMER),
                 "the customer's MAX chat never got the operator's answer, signed")
    max_fake.enqueue(w.message_created(CUSTOMER, "Можно в субботу?"))
    await expect(desk.locator(".msg.in").last).to_contain_text("Можно в субботу?", timeout=LIVE)
    quiet = len(_to(max_fake, CUSTOMER))  # the bot said nothing to it
    await desk.get_by_role("button", name="Вернуть боту").click()
    await expect(desk.get_by_role("button", name="Взять")).to_be_visible()
    max_fake.enqueue(w.message_created(CUSTOMER, "записаться"))
    await _until(lambda: "Какую услугу вы хотите?" in _to(max_fake, CUSTOMER),
                 "the bot did not answer after the hand-back")
    assert _to(max_fake, CUSTOMER)[quiet] == "Какую услугу вы хотите?"


async def test_the_owner_answers_from_their_max_chat_and_the_desk_shows_it(
    served: Served, browser: Browser, max_fake: MaxFake,
) -> None:
    _, _, url = served
    desk = await _desk(browser, url)
    await _handed_off(desk, max_fake)
    await _until(lambda: any("«/бот" in t for t in _to(max_fake, OWNER)), "no note")
    note = next(s for s in max_fake.sent if s.user_id == OWNER and "«/бот" in str(s.body["text"]))
    number = re.search(r"«/бот (\d+)»", str(note.body["text"]))
    assert number is not None
    max_fake.enqueue(w.message_created(OWNER, "Сейчас посмотрю запись",
                                       reply_to=dict(note.message["body"])))
    await _until(lambda: "Иван: Сейчас посмотрю запись" in _to(max_fake, CUSTOMER),
                 "the owner's reply never reached the customer")  # (the fake names him Иван)
    said = desk.locator(".msg.operator").last
    await expect(said).to_contain_text("Сейчас посмотрю запись", timeout=LIVE)
    await expect(said.locator(".meta")).to_contain_text("Иван")
    await expect(desk.get_by_text("Разговор ведёт Иван.")).to_be_visible()
    max_fake.enqueue(w.message_created(OWNER, f"/бот {number.group(1)}"))
    await _until(lambda: f"Клиент {number.group(1)} снова с ботом." in _to(max_fake, OWNER),
                 "not released")
    max_fake.enqueue(w.message_created(CUSTOMER, "записаться"))
    await _until(lambda: "Какую услугу вы хотите?" in _to(max_fake, CUSTOMER),
                 "the bot did not answer after /бот")
