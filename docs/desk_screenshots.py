"""Screenshots of the operator desk for the README (docs/desk-*.png).

Runs the real bot (``bots.app.build_app``: the example flows, an embedded Redis in a
temporary folder) on a loopback port, seeds three VK customers who talked to the bot earlier
and an owner «Ольга», then in Debian's Chromium: a visitor of the web chat asks for a person;
the desk's list shows the hand-off (1280×800 and 390×844); Ольга takes it, answers, and puts a
canned reply (``_desk.yaml``) in the field; the conversation with the customer's card is
photographed whole at both sizes. Times are the real clock's.

    .venv/bin/python docs/desk_screenshots.py [output folder]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect

from bots.app import EDGE, build_app
from bots.config import Settings
from bots.desk.passwords import hash_password
from flows.types import Button
from storage.history import HistoryEntry
from storage.store import Store

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "пароль-для-снимков"
HANDED = "Передаю разговор администратору"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
MSK = ZoneInfo("Europe/Moscow")
# Earlier VK talks: (account, name, the bot's line, the customer's last line, when).
EARLIER = (
    ("vk:1001", "Мария", "Чем могу помочь?", "Можно записаться на субботу?", (24, 19, 0)),
    ("vk:1002", "Пётр", "Ждём вас в субботу в 12:00.", "Спасибо, до встречи!", (24, 19, 10)),
    ("vk:1003", None, "Чем могу помочь?", "Сколько стоит окрашивание?", (24, 19, 20)),
)


async def seed(store: Store) -> None:
    assert await store.desk.operators.add("Ольга", hash_password(PASSWORD), "owner")
    for account, name, bot, said, (day, hour, minute) in EARLIER:
        customer = await store.identities.resolve(account, name=name)
        at = datetime(2026, 11, day, hour, minute, tzinfo=MSK).timestamp()
        await store.history.append(customer, HistoryEntry(
            at - 60, "vk", "out", bot, keyboard=(Button("booking", "Записаться на приём"),)))
        await store.history.append(customer, HistoryEntry(at, "vk", "in", said))


async def visitor_asks_for_a_person(browser: Browser, url: str) -> None:
    page = await (await browser.new_context(locale="ru-RU", timezone_id="Europe/Moscow")
                  ).new_page()
    await page.goto(f"{url}/chat")
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Чем могу помочь?")
    await log.get_by_role("button", name="Позвать администратора", exact=True).last.click()
    await expect(log).to_contain_text(HANDED)


async def desk(browser: Browser, url: str, size: str) -> Page:
    width, height = SIZES[size]
    context = await browser.new_context(viewport={"width": width, "height": height},
                                        locale="ru-RU", timezone_id="Europe/Moscow")
    page = await context.new_page()
    await page.goto(f"{url}/desk/")
    await page.get_by_label("Имя").fill("Ольга")
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await expect(page.locator("#waiting-count")).to_have_text("1")
    return page


async def shoot(browser: Browser, url: str, folder: Path) -> None:
    await visitor_asks_for_a_person(browser, url)
    pages = {size: await desk(browser, url, size) for size in SIZES}
    for size, page in pages.items():
        await expect(page.locator(".row.state-waiting")).to_contain_text("ждёт человека")
        await page.screenshot(path=folder / f"desk-list-{size}.png")
    page = pages["desktop"]
    await page.locator(".row.state-waiting").get_by_role("link").click()
    await page.get_by_role("button", name="Взять").click()
    answer = page.get_by_placeholder("Ваш ответ клиенту")
    await answer.fill("Здравствуйте! Это Ольга, чем помочь?")
    await page.get_by_role("button", name="Отправить").click()
    await expect(page.locator(".msg.operator")).to_contain_text("Это Ольга")
    phone = pages["phone"]
    await phone.goto(page.url)
    await expect(phone.locator(".msg.operator")).to_contain_text("Это Ольга")
    await phone.screenshot(path=folder / "desk-conversation-phone.png", full_page=True)
    await page.get_by_role("button", name="Часы работы").click()  # a canned reply, one click
    await expect(answer).to_have_value("Мы работаем ежедневно с 10:00 до 20:00.")
    await page.screenshot(path=folder / "desk-conversation-desktop.png", full_page=True)


async def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            _env_file=None, data_dir=Path(data), flows=ROOT / "flows_examples",
            redis_url=None)
        app = build_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            await seed(app[EDGE].parts.store)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                    "--disable-gpu"])
                await shoot(browser, url, folder)
                await browser.close()
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent))
    print("screenshots: 4")
