"""Done means (issue 15): in a real Chromium, two browser contexts side by side — a customer
in the web chat widget asks for a person; the desk, logged in as an operator, shows the
hand-off live (no reload: the counter, the title badge, the row); the operator takes it and
answers; the widget shows the answer with the operator's name («Ольга, оператор»); the
customer's next message appears on the desk live; the operator inserts a canned reply
(``_desk.yaml``) with one click and sends it; the operator hands back; the bot answers the
customer's next message."""

from __future__ import annotations

import pytest
from desk_browser import BROWSER_MARKS, Served, browser_fixture, served_fixture  # noqa: F401
from desk_client import HANDED, PASSWORD
from playwright.async_api import Browser, Page, expect

from storage.embedded import EmbeddedRedis


@pytest.fixture
def redis_url(embedded_redis: EmbeddedRedis) -> str:
    """The embedded Redis only, for the desk in a browser: no behaviour of a Redis server is under
    test here (tests/storage tests each on every server), and this file is among the suite's
    slowest: once, not once per server."""
    return embedded_redis.url


LIVE = 15_000  # ms: the desk polls every 3 s

pytestmark = BROWSER_MARKS


async def _customer_says(page: Page, text: str) -> None:
    message = page.get_by_label("Сообщение")
    await message.fill(text)
    await message.press("Enter")


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
    desk = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    await _log_in(desk, url)  # (a phone-sized desk)
    customer = await (await browser.new_context()).new_page()
    await customer.goto(f"{url}/chat")
    log = customer.get_by_role("log")
    await expect(log).to_contain_text("Чем могу помочь?")
    await log.get_by_role("button", name="Позвать администратора", exact=True).last.click()
    await expect(log).to_contain_text(HANDED)

    await expect(desk.locator("#waiting-count")).to_have_text("1", timeout=LIVE)
    await expect(desk).to_have_title("(1) Разговоры — svyaz")
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
    await desk.get_by_role("button", name="Часы работы").click()  # _desk.yaml, one click
    await expect(answer).to_have_value("Мы работаем ежедневно с 10:00 до 20:00.")
    await desk.get_by_role("button", name="Отправить").click()
    await expect(log).to_contain_text("Мы работаем ежедневно с 10:00 до 20:00.")
    await desk.get_by_role("button", name="Вернуть боту").click()
    await expect(desk.get_by_role("button", name="Взять")).to_be_visible()

    await _customer_says(customer, "записаться")
    await expect(log).to_contain_text("Какую услугу вы хотите?")
