"""The newcomer's path: ``svyaz run`` with no settings, a real browser books a visit on /chat.

Debian's headless Chromium (Playwright with ``executable_path``) opens the demo page served by
a ``svyaz run`` process on the example flows, clicks and types through the whole booking flow,
reloads the page at the phone question (390×844) and finds it asking for the phone still, and
at the end finds the dialogue still there. A page of another site on another local
port embeds the widget from that process with the default origins and gets its greeting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from desk_browser import BROWSER_MARKS, browser_fixture  # noqa: F401
from playwright.async_api import Browser, Page, expect
from test_processes import Bot, clean_env, free_port

from tests.bookable import bookable_day

pytestmark = BROWSER_MARKS


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Bot]:
    bot = Bot(clean_env(port=str(free_port()), data_dir=str(tmp_path / "data")),
              tmp_path / "run.log")
    try:
        await bot.ready()
        yield bot
    finally:
        bot.stop()


async def say(page: Page, text: str) -> None:
    message = page.get_by_label("Сообщение")
    await message.fill(text)
    await message.press("Enter")


async def press(page: Page, name: str) -> None:
    await page.get_by_role("log").get_by_role("button", name=name, exact=True).last.click()


async def test_booking_in_the_demo_web_chat(demo: Bot, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(f"{demo.url}/chat")
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Чем могу помочь?")
    await press(page, "Записаться на приём")
    await expect(log).to_contain_text("Какую услугу вы хотите?")
    await press(page, "Стрижка")
    await expect(log).to_contain_text("К какому мастеру записать?")
    await press(page, "Анна")
    await expect(log).to_contain_text("На какой день записать?")
    await say(page, bookable_day())
    await expect(log).to_contain_text("Свободное время")
    await press(page, "12:30")
    await expect(log).to_contain_text("Вы согласны на обработку персональных данных?")
    await press(page, "Да")
    await expect(log).to_contain_text("Как вас зовут?")
    await say(page, "Оля")
    await expect(log).to_contain_text("Ваш номер телефона?")
    phone = page.get_by_label("Номер телефона")
    await expect(phone).to_be_visible()
    await page.reload()  # the open question comes back with its phone entry
    await expect(log).to_contain_text("Ваш номер телефона?")
    await expect(phone).to_be_visible()
    assert await phone.get_attribute("type") == "tel"
    await phone.fill("+7 999 123-45-67")
    await page.get_by_role("button", name="Отправить номер").click()
    await expect(log).to_contain_text("Всё верно?")
    await expect(page.get_by_label("Сообщение")).to_be_visible()
    await say(page, "да")
    await expect(log).to_contain_text("Готово! Ждём вас")
    await expect(log).to_contain_text("в 12:30")

    await page.reload()
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Готово! Ждём вас")
    await expect(log).to_contain_text("Оля")
    await page.close()


async def test_a_page_on_another_localhost_port_embeds_the_widget_by_default(
    demo: Bot, browser: Browser
) -> None:
    """The default origins are the public URL and localhost on any port (the README): a
    developer's page on http://127.0.0.1:<another port> is not refused."""
    page_html = (f'<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Сайт'
                 f'</title></head><body><script src="{demo.url}/chat/widget.js" '
                 f'data-open="true" defer></script></body></html>')

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=page_html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", free_port()).start()
    try:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/")
        await expect(page.get_by_role("log")).to_contain_text("Чем могу помочь?")
        await expect(page.get_by_label("Сообщение")).to_be_enabled()
        await page.close()
    finally:
        await runner.cleanup()
