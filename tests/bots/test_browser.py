"""The newcomer's path: ``svyaz run`` with no settings, a real browser books a visit on /chat.

Debian's headless Chromium (Playwright with ``executable_path``) opens the demo page served by
a ``svyaz run`` process on the example flows, clicks and types through the whole booking flow,
reloads the page and finds the dialogue still there.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from test_processes import Bot, clean_env, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Bot]:
    bot = Bot(clean_env(port=str(free_port()), data_dir=str(tmp_path / "data")),
              tmp_path / "run.log")
    try:
        await bot.ready()
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        await chromium.close()


async def say(page: Page, text: str) -> None:
    message = page.get_by_label("Сообщение")
    await message.fill(text)
    await message.press("Enter")


async def press(page: Page, name: str) -> None:
    await page.get_by_role("log").get_by_role("button", name=name, exact=True).last.click()


async def test_booking_in_the_demo_web_chat(demo: Bot, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{demo.url}/chat")
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Чем могу помочь?")
    await press(page, "Записаться на приём")
    await expect(log).to_contain_text("Какую услугу вы хотите?")
    await press(page, "Стрижка")
    await expect(log).to_contain_text("К какому мастеру записать?")
    await press(page, "Анна")
    await expect(log).to_contain_text("На какой день записать?")
    await say(page, (datetime.now() + timedelta(days=30)).strftime("%d.%m"))
    await expect(log).to_contain_text("Свободное время")
    await press(page, "12:30")
    await expect(log).to_contain_text("Вы согласны на обработку персональных данных?")
    await press(page, "Да")
    await expect(log).to_contain_text("Как вас зовут?")
    await say(page, "Оля")
    await expect(log).to_contain_text("Ваш номер телефона?")
    phone = page.get_by_label("Номер телефона")
    with contextlib.suppress(AssertionError):
        await expect(phone).to_be_visible(timeout=2_000)
    if await phone.is_visible():
        await phone.fill("+7 999 123-45-67")
        await page.get_by_role("button", name="Отправить номер").click()
    else:
        await say(page, "+7 999 123-45-67")
    await expect(log).to_contain_text("Всё верно?")
    await say(page, "да")
    await expect(log).to_contain_text("Готово! Ждём вас")
    await expect(log).to_contain_text("в 12:30")

    await page.reload()
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Готово! Ждём вас")
    await expect(log).to_contain_text("Оля")
    await page.close()
