"""Issue 16: the widget tells the visitor what is going on (Chromium).

A typing indicator while the bot works, times on messages, the operator's name on an
operator's message (live and after a reload), a message the server refused marked not sent
with the reason and the draft back in the field, and a field that holds no more than the server
takes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, expect
from test_webchat_browser import CHROMIUM, ScriptedDialogue, browser, session_of
from test_webchat_widget_browser import DESKTOP, SiteFactory, make_site, open_page, page_html, say

from connectors.webchat import WebHistoryItem
from flows.types import Inbound, Reply

__all__ = ["browser", "make_site"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]

SENT_AT = datetime(2026, 1, 5, 9, 7, tzinfo=UTC).timestamp()  # 12:07 in Moscow


@dataclass
class GatedDialogue(ScriptedDialogue):
    """Like the runtime, takes a message at once and answers from a turn of its own, which
    waits until ``gate`` opens: the bot is "working" meanwhile."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    turns: set[asyncio.Task[None]] = field(default_factory=set)

    async def sink(self, inbound: Inbound) -> None:
        if inbound.event_id.endswith(":start"):
            await super().sink(inbound)
            return
        turn = asyncio.create_task(self._turn(inbound))
        self.turns.add(turn)
        turn.add_done_callback(self.turns.discard)

    async def _turn(self, inbound: Inbound) -> None:
        await self.gate.wait()
        await super().sink(inbound)


async def test_typing_shows_while_the_bot_works_and_replies_carry_times(
    make_site: SiteFactory, browser: Browser
) -> None:
    dialogue = GatedDialogue()
    site = await make_site(dialogue=dialogue, clock=lambda: SENT_AT)
    context = await browser.new_context(timezone_id="Europe/Moscow", viewport=DESKTOP)
    page = await context.new_page()
    site.pages["p"] = page_html()
    await page.goto(f"{site.url}/page/p")
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Здравствуйте!")
    typing = page.locator(".svz-typing")
    await expect(typing).to_be_hidden()
    await say(page, "Есть окно в пятницу?")
    await expect(typing).to_be_visible()
    await expect(typing).to_contain_text("Печатает")
    dialogue.gate.set()
    await expect(log).to_contain_text("Вы написали: Есть окно в пятницу?")
    await expect(typing).to_be_hidden()
    answer = page.locator(".svz-msg.svz-out").last
    await expect(answer.locator("time")).to_have_text("12:07")
    await context.close()


async def test_an_operator_message_shows_the_operators_name_live_and_after_a_reload(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site(clock=lambda: SENT_AT)
    page = await open_page(browser, site, page_html(), DESKTOP)
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Здравствуйте!")
    sid = await session_of(page)
    await site.chat.send(sid, Reply("Добрый день, я посмотрю запись.", operator="Мария"),
                         message_key="op-1")
    said = page.locator(".svz-operator")
    await expect(said).to_contain_text("Мария, оператор")
    await expect(said).to_contain_text("Добрый день, я посмотрю запись.")
    await expect(log.locator(".svz-out").first).not_to_contain_text("оператор")  # the bot's
    site.dialogue.seed(sid)
    site.dialogue.history[sid].append(
        WebHistoryItem("out", "Добрый день, я посмотрю запись.", at=SENT_AT, operator="Мария"))
    await page.reload()
    await expect(page.locator(".svz-operator")).to_contain_text("Мария, оператор")


async def test_a_refused_message_is_marked_unsent_with_the_reason_and_the_draft_restored(
    make_site: SiteFactory, browser: Browser
) -> None:
    # The burst: the open frame and two messages; the third is over the limit.
    site = await make_site(message_rate=0.001, message_burst=3)
    page = await open_page(browser, site, page_html(), DESKTOP)
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Здравствуйте!")
    for text in ("первое", "второе"):
        await say(page, text)
        await expect(log).to_contain_text(f"Вы написали: {text}")
    await say(page, "третье")
    failed = page.locator(".svz-failed")
    await expect(failed).to_contain_text("третье")
    await expect(failed.get_by_role("alert")).to_have_text(
        "Не отправлено: Слишком много сообщений подряд, подождите немного.")
    message = page.get_by_label("Сообщение")
    await expect(message).to_have_value("третье")
    await expect(message).to_be_focused()
    assert await log.locator(".svz-failed").count() == 1


async def test_the_field_holds_no_more_than_the_server_takes(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site()
    page = await open_page(browser, site, page_html(), DESKTOP)
    await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
    message = page.get_by_label("Сообщение")
    await message.fill("я" * 3000)  # 6000 bytes of UTF-8; the server takes 4096
    value = await message.input_value()
    assert len(value.encode()) <= 4096
    assert len(value) == 2048
    await expect(page.locator(".svz-hint")).to_contain_text("обрезано")
    await message.fill("я" * 2047 + "😀😀")  # the first emoji would pass the limit
    assert await message.input_value() == "я" * 2047  # cut between characters, not inside one
    await message.fill("я" * 3000)
    await message.press("Enter")
    await expect(page.locator(".svz-failed")).to_have_count(0)
    await expect(page.get_by_role("log")).to_contain_text("Вы написали: " + "я" * 50)
