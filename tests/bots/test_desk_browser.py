"""Done means (issue 15): in a real Chromium, two browser contexts side by side — a customer
in the web chat widget asks for a person; the desk, logged in as an operator, shows the
hand-off live (no reload: the counter, the title badge, the row); the operator takes it and
answers; the widget shows the answer; the customer's next message appears on the desk live;
the operator inserts a canned reply (``_desk.yaml``) with one click and sends it; the
operator hands back; the bot answers the customer's next message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from desk_client import HANDED, PASSWORD, add_operator, desk_app
from playwright.async_api import Browser, Page, async_playwright, expect
from test_processes import free_port

from storage.embedded import EmbeddedRedis


@pytest.fixture
def redis_url(embedded_redis: EmbeddedRedis) -> str:
    """The embedded Redis only, for the desk in a browser: no behaviour of a Redis server is under
    test here (tests/storage tests each on every server), and this file is among the suite's
    slowest: once, not once per server."""
    return embedded_redis.url


CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]
LIVE = 15_000  # ms: the desk polls every 3 s

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def served(redis_url: str, bot_prefix: str, tmp_path: Path
                 ) -> AsyncIterator[tuple[web.Application, TestClient, str]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with desk_app(redis_url, bot_prefix, tmp_path, port=port,
                        public_url=url) as (app, client):
        await add_operator(app, "Ольга")
        yield app, client, url


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
    served: tuple[web.Application, TestClient, str], browser: Browser,
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
    await answer.fill("Здравствуйте! Это Ольга.")
    await desk.get_by_role("button", name="Отправить").click()
    await expect(desk.locator(".msg.operator")).to_contain_text("Здравствуйте! Это Ольга.")
    await expect(desk.locator(".msg.operator .meta")).to_contain_text("Ольга")

    await expect(log).to_contain_text("Здравствуйте! Это Ольга.")
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
