"""Done means (issue 15): in a real Chromium, two browser contexts side by side — a customer
in the web chat widget asks for a person; the desk, logged in as an operator, shows the
hand-off live (no reload: the counter, the title badge, the row, a tone); the operator takes it and
answers; the widget shows the answer with the operator's name («Ольга, оператор»); the
customer's next message appears on the desk live; the operator inserts a canned reply
(``_desk.yaml``) with one click and sends it; the operator hands back; the bot answers the
customer's next message."""

from __future__ import annotations

import asyncio
import time

import pytest
from desk_browser import BROWSER_MARKS, Served, browser_fixture, served_fixture  # noqa: F401
from desk_client import HANDED, PASSWORD, store_of
from playwright.async_api import Browser, Page, Route, expect

from storage.embedded import EmbeddedRedis
from storage.history import HistoryEntry


@pytest.fixture
def redis_url(embedded_redis: EmbeddedRedis) -> str:
    """The embedded Redis only, for the desk in a browser: no behaviour of a Redis server is under
    test here (tests/storage tests each on every server), and this file is among the suite's
    slowest: once, not once per server."""
    return embedded_redis.url


LIVE = 15_000  # ms: the desk polls every 3 s
# Counts the desk's tones (desk.js's beep: an oscillator started), page by page.
COUNT_TONES = """
window.tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.tones += 1;
  return start.apply(this, args);
};
"""

pytestmark = BROWSER_MARKS


async def _customer_says(page: Page, text: str) -> None:
    message = page.get_by_label("Сообщение")
    await message.fill(text)
    await message.press("Enter")


async def _a_tone(page: Page) -> None:
    """Wait until the page has sounded a tone (evaluated from outside: the desk's CSP allows no
    eval, so no ``wait_for_function`` with a string)."""
    for _ in range(LIVE // 100):
        if await page.evaluate("window.tones") > 0:
            return
        await page.wait_for_timeout(100)
    raise AssertionError("no tone")


async def _log_in(page: Page, url: str) -> None:
    await page.goto(f"{url}/desk/")
    await page.get_by_label("Имя").fill("Ольга")
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await expect(page.locator("#waiting-count")).to_have_text("0")


async def test_customer_and_operator_side_by_side(
    served: Served, browser: Browser,
) -> None:
    _, _, url = served
    desk_context = await browser.new_context(viewport={"width": 390, "height": 844})
    await desk_context.add_init_script(COUNT_TONES)
    desk = await desk_context.new_page()
    await _log_in(desk, url)  # (a phone-sized desk)
    customer = await (await browser.new_context()).new_page()
    await customer.goto(f"{url}/chat")
    log = customer.get_by_role("log")
    await expect(log).to_contain_text("Чем могу помочь?")
    await log.get_by_role("button", name="Позвать администратора", exact=True).last.click()
    await expect(log).to_contain_text(HANDED)

    await expect(desk.locator("#waiting-count")).to_have_text("1", timeout=LIVE)
    await expect(desk).to_have_title("(1) Разговоры — svyaz")
    await _a_tone(desk)
    row = desk.locator(".row.state-waiting")
    await expect(row).to_contain_text("ждёт человека")
    await row.get_by_role("link").click()
    await desk.get_by_role("button", name="Взять").click()
    answer = desk.get_by_placeholder("Ваш ответ клиенту")
    await answer.fill("Здравствуйте! Чем помочь?")  # (no name in the text: the widget shows it)
    await desk.get_by_role("button", name="Отправить").click()
    await expect(desk.locator(".msg.operator")).to_contain_text("Здравствуйте! Чем помочь?")
    await expect(desk.locator(".msg.operator .meta")).to_contain_text("Ольга")

    said = log.locator(".svz-operator")
    await expect(said).to_contain_text("Здравствуйте! Чем помочь?")
    await expect(said.locator(".svz-who")).to_have_text("Ольга, оператор")  # seen, signed
    await _customer_says(customer, "Можно перенести запись?")
    await expect(desk.locator(".msg.in").last).to_contain_text("Можно перенести запись?",
                                                               timeout=LIVE)
    await _a_tone(desk)  # a new message sounds too
    await desk.get_by_role("button", name="Часы работы").click()  # _desk.yaml, one click
    await expect(answer).to_have_value("Мы работаем ежедневно с 10:00 до 20:00.")
    await desk.get_by_role("button", name="Отправить").click()
    await expect(log).to_contain_text("Мы работаем ежедневно с 10:00 до 20:00.")
    await desk.get_by_role("button", name="Вернуть боту").click()
    await expect(desk.get_by_role("button", name="Взять")).to_be_visible()

    await _customer_says(customer, "записаться")
    await expect(log).to_contain_text("Какую услугу вы хотите?")


@pytest.mark.parametrize("shown", ["list", "conversation"])
async def test_a_message_between_the_page_and_its_first_poll_is_shown(
    served: Served, browser: Browser, shown: str,
) -> None:
    """A page's poll starts from what the page was rendered with (its ``data-stamp``): a
    message that arrives after the render but before the first poll answers still appears (it
    used to be taken as the page's starting point and shown only after the next change)."""
    app, _, url = served
    store = store_of(app)
    customer = await store.identities.resolve("vk:5", name="Оля")
    await store.history.append(customer, HistoryEntry(time.time() - 60, "vk", "in", "Привет"))
    page = await (await browser.new_context()).new_page()
    await _log_in(page, url)
    first_poll = asyncio.Event()

    async def held(route: Route) -> None:
        await first_poll.wait()
        await route.continue_()

    await page.route("**/desk/live.json*", held)
    await page.goto(f"{url}/desk/" if shown == "list" else f"{url}/desk/c/{customer}")
    said = page.locator(".row .last" if shown == "list" else ".msg.in").last
    await expect(said).to_contain_text("Привет")
    await store.history.append(customer, HistoryEntry(time.time(), "vk", "in", "Вы тут?"))
    if shown == "list":  # (the list reads the activity index each message's accept writes)
        await store.identities.attach("vk:5", customer, time.time())
    first_poll.set()
    await expect(said).to_contain_text("Вы тут?", timeout=LIVE)
