"""Issue 16: the widget after a reload and during a hand-off (Chromium, 390×844).

* a reload at a phone question brings the one input row back in phone entry (type, label,
  button, the question described and in view), the answered keyboard still folded; once the
  phone is given, text entry again;
* no typing indicator for a message no bot reply follows (a person has the dialogue: the
  server asks the ``quiet`` provider); an operator's message hides an indicator that shows.
The WebChat runs with the scripted dialogue of ``test_webchat_browser``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from playwright.async_api import Browser, Page, expect
from test_webchat_browser import CHROMIUM, browser, session_of
from test_webchat_widget_browser import PHONE, SiteFactory, make_site, open_page, page_html, say
from test_webchat_widget_feedback import GatedDialogue

from flows.types import Inbound, Reply
from tests.widget_typing import WATCH_TYPING

__all__ = ["browser", "make_site"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]


async def expect_phone_entry(page: Page, question_text: str) -> None:
    phone = page.get_by_label("Номер телефона")
    await expect(phone).to_be_visible()
    assert await phone.get_attribute("type") == "tel"
    assert await phone.get_attribute("inputmode") == "tel"
    assert await page.locator(".svz-form").count() == 1
    await expect(page.get_by_label("Сообщение")).to_have_count(0)
    await expect(page.get_by_role("button", name="Отправить номер")).to_be_visible()
    question = page.locator(".svz-msg").filter(has_text=question_text).last
    described = await phone.get_attribute("aria-describedby")
    assert described
    assert described == await question.get_attribute("id")
    seen = await question.bounding_box()
    view = await page.get_by_role("log").bounding_box()
    assert seen is not None
    assert view is not None
    assert view["y"] <= seen["y"]
    assert seen["y"] + seen["height"] <= view["y"] + view["height"]


async def expect_text_entry(page: Page) -> None:
    message = page.get_by_label("Сообщение")
    await expect(message).to_be_visible()
    assert await message.get_attribute("type") == "text"
    await expect(page.get_by_label("Номер телефона")).to_have_count(0)
    await expect(page.get_by_role("button", name="Отправить", exact=True)).to_be_visible()
    assert await message.get_attribute("aria-describedby") is None


async def test_a_reload_at_the_phone_question_keeps_phone_entry(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site()
    page = await open_page(browser, site, page_html(), PHONE)
    log = page.get_by_role("log")
    await log.get_by_role("button", name="Записаться").click()
    await expect(log).to_contain_text("Как вас зовут?")
    await say(page, "Анна")
    await expect_phone_entry(page, "Оставьте телефон")

    await page.reload()
    await expect(log).to_contain_text("Оставьте телефон")
    await expect_phone_entry(page, "Оставьте телефон")
    await expect(log.get_by_role("button", name="Записаться")).to_be_hidden()  # answered: folded
    await page.get_by_label("Номер телефона").fill("+7 999 123-45-67")
    await page.get_by_role("button", name="Отправить номер").click()
    await expect(log).to_contain_text("Спасибо! Перезвоним на +7 999 123-45-67.")
    await expect_text_entry(page)

    await page.reload()  # answered: the reload stays in text entry
    await expect(log).to_contain_text("Спасибо! Перезвоним")
    await expect_text_entry(page)


async def test_a_reload_elsewhere_stays_in_text_entry(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site()
    page = await open_page(browser, site, page_html(), PHONE)
    log = page.get_by_role("log")
    await log.get_by_role("button", name="Записаться").click()
    await expect(log).to_contain_text("Как вас зовут?")
    await page.reload()
    await expect(log).to_contain_text("Как вас зовут?")
    await expect_text_entry(page)


@dataclass
class HandedOff(GatedDialogue):
    """A dialogue a person has: the bot says nothing to the visitor's messages."""

    handed: set[str] = field(default_factory=set)
    taken: asyncio.Queue[Inbound] = field(default_factory=asyncio.Queue)

    async def quiet(self, session_id: str) -> bool:
        return session_id in self.handed

    async def sink(self, inbound: Inbound) -> None:
        if inbound.user_id in self.handed:
            self.taken.put_nowait(inbound)
            return
        await super().sink(inbound)


async def test_no_typing_indicator_while_a_person_has_the_dialogue(
    make_site: SiteFactory, browser: Browser
) -> None:
    dialogue = HandedOff()
    dialogue.gate.set()
    site = await make_site(dialogue=dialogue, quiet=dialogue.quiet)
    page = await open_page(browser, site, page_html(), PHONE)
    log = page.get_by_role("log")
    await say(page, "Позовите человека")
    await expect(log).to_contain_text("Вы написали: Позовите человека")
    sid = await session_of(page)
    dialogue.handed.add(sid)

    await page.evaluate(WATCH_TYPING)
    await say(page, "Алло, есть кто?")
    await dialogue.taken.get()  # taken: a typing frame would already be on the socket
    await site.chat.send(sid, Reply("Здравствуйте, это Мария.", operator="Мария"),
                         message_key="op-1")
    await expect(page.locator(".svz-operator")).to_contain_text("Здравствуйте, это Мария.")
    assert await page.evaluate("window.__typingShown") is False
    await expect(page.locator(".svz-typing")).to_be_hidden()


async def test_an_operators_message_hides_the_typing_indicator(
    make_site: SiteFactory, browser: Browser
) -> None:
    dialogue = GatedDialogue()  # the bot's turn never ends here: only the operator answers
    site = await make_site(dialogue=dialogue)
    page = await open_page(browser, site, page_html(), PHONE)
    await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
    await say(page, "Есть окно в пятницу?")
    typing = page.locator(".svz-typing")
    await expect(typing).to_be_visible()
    sid = await session_of(page)
    await site.chat.send(sid, Reply("Посмотрю и отвечу.", operator="Мария"), message_key="op-2")
    await expect(page.locator(".svz-operator")).to_contain_text("Посмотрю и отвечу.")
    await expect(typing).to_be_hidden()
    dialogue.gate.set()  # (the turn ends before the test does)
    await expect(page.get_by_role("log")).to_contain_text("Вы написали: Есть окно")
