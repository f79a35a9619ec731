"""Screenshots of the web chat widget for the README (docs/widget/*.png).

Runs the real web chat connector on a loopback port with a short scripted dialogue (a dental
clinic: greeting, a choice, the phone question, an operator's reply) and photographs it in
Debian's Chromium at 1280×800 and 390×844. Deterministic: a fixed clock and time zone.

    .venv/bin/python docs/widget_screenshots.py [output folder]
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from playwright.async_api import Page, async_playwright, expect

from connectors.webchat import Brand, WebChat
from flows.types import Button, ButtonEvent, Inbound, Reply, TextEvent

CHROMIUM = "/usr/bin/chromium"
NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)  # 12:30 in Moscow
BRAND = Brand(title="Клиника «Улыбка»", color="#0f766e", greeting="Ответим за пару минут")
GREETING = Reply("Здравствуйте! Я помощник клиники «Улыбка». Чем могу помочь?", (
    Button("booking", "Записаться на приём"), Button("prices", "Узнать цены"),
    Button("human", "Позвать администратора")))
SERVICES = Reply("Какая услуга вам нужна?", (
    Button("checkup", "Осмотр"), Button("cleaning", "Чистка"), Button("treatment", "Лечение"),
    Button("implant", "Имплантация")))
OPERATOR = Reply("Анна, добрый день! Это Мария, администратор. Есть окно в пятницу в 15:00 — "
                 "записать вас?", operator="Мария")
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


class Dialogue:
    """The clinic's bot, scripted: it answers each event with the next line."""

    def __init__(self) -> None:
        self.chat: WebChat | None = None
        self.turns = 0

    async def sink(self, inbound: Inbound) -> None:
        reply = self.answer(inbound)
        if reply is not None and self.chat is not None:
            self.turns += 1
            await self.chat.send(inbound.user_id, reply, message_key=f"m{self.turns}")

    def answer(self, inbound: Inbound) -> Reply | None:
        event = inbound.event
        if isinstance(event, ButtonEvent) and event.button == "booking":
            return SERVICES
        if isinstance(event, ButtonEvent):
            return Reply("Как вас зовут?")
        if isinstance(event, TextEvent) and event.text.startswith("+7"):
            return Reply("Спасибо! Передаю администратору — он подберёт время.")
        if isinstance(event, TextEvent):
            return Reply(f"{event.text}, оставьте номер телефона — администратор подтвердит "
                         "запись.", request_phone=True)
        return None


async def shoot(page: Page, chat: WebChat, folder: Path, size: str) -> None:
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Чем могу помочь?")
    await page.screenshot(path=folder / f"{size}-greeting.png")
    await log.get_by_role("button", name="Записаться на приём").click()
    await expect(log.get_by_role("button", name="Чистка")).to_be_visible()
    await page.locator(".svz-typing").wait_for(state="hidden")
    await page.screenshot(path=folder / f"{size}-choice.png")
    await log.get_by_role("button", name="Чистка").click()
    await expect(log).to_contain_text("Как вас зовут?")
    message = page.get_by_label("Сообщение")
    await message.fill("Анна")
    await message.press("Enter")
    phone = page.get_by_label("Номер телефона")
    await expect(phone).to_be_focused()
    await page.screenshot(path=folder / f"{size}-phone.png")
    await phone.fill("+7 999 123-45-67")
    await phone.press("Enter")
    await expect(log).to_contain_text("Передаю администратору")
    token = await page.evaluate("localStorage.getItem('svyaz.chat.session')")
    await chat.send(str(token).split(".")[0], OPERATOR, message_key=f"op-{size}")
    await expect(log).to_contain_text("Мария, оператор")
    await page.locator(".svz-typing").wait_for(state="hidden")
    await page.screenshot(path=folder / f"{size}-operator.png")


async def main(folder: Path) -> None:
    dialogue = Dialogue()
    chat = WebChat(secret_key=b"screenshots-key-0123456789abcdef", sink=dialogue.sink,
                   history=lambda _sid: _none(), greeting=lambda: (GREETING,),
                   public_url="http://127.0.0.1", brand=BRAND, clock=NOW.timestamp)
    dialogue.chat = chat
    app = web.Application()
    app.add_routes(chat.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await chat.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/chat"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            for size, (width, height) in SIZES.items():
                context = await browser.new_context(
                    viewport={"width": width, "height": height}, timezone_id="Europe/Moscow",
                    locale="ru-RU")
                page = await context.new_page()
                await page.clock.set_fixed_time(NOW)
                await page.goto(url)
                await shoot(page, chat, folder, size)
                await context.close()
            await browser.close()
    finally:
        await chat.stop()
        await runner.cleanup()


async def _none() -> None:
    return None


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "widget"))
    print("screenshots: 8")
