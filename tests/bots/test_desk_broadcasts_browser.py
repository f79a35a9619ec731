"""In a real Chromium: the owner composes an advertising broadcast on the desk, sees how many
customers of the segment get it per channel and the message with «Отписаться», starts it and
watches its numbers; an operator who is not the owner is refused the page; on a phone no page
of the owner's is wider than the screen."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from desk_browser import BROWSER_MARKS, Served, browser_fixture, serve  # noqa: F401
from desk_client import PASSWORD, add_operator, store_of
from playwright.async_api import Browser, Page, expect

from bots.app import EDGE
from flows.broadcast import BroadcastSpec
from storage.history import HistoryEntry

pytestmark = BROWSER_MARKS


@pytest.fixture
async def served(redis_url: str, bot_prefix: str, tmp_path: Path) -> AsyncIterator[Served]:
    """The desk with its owner and an operator, and three customers: two agreed to ads."""
    async with serve(redis_url, bot_prefix, tmp_path) as (app, client, url):
        await add_operator(app, "Владелец", role="owner")
        await add_operator(app, "Ольга")
        store = store_of(app)
        for account in ("max:1", "vk:2", "vk:3"):
            customer = await store.identities.resolve(account)
            if account != "vk:3":  # vk:3 never agreed to advertising
                await store.profiles.record_consent(customer, True, "2026-12",
                                                    datetime.now(UTC), "max", what="ads")
                await store.profiles.add_tags(customer, ["подписчик"])
        yield app, client, url


async def _log_in(page: Page, url: str, name: str) -> None:
    await page.goto(f"{url}/desk/")
    await page.get_by_label("Имя").fill(name)
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await expect(page.locator("#waiting-count")).to_have_text("0")


async def test_the_owner_composes_previews_starts_and_watches(
    served: Served, browser: Browser,
) -> None:
    _, _, url = served
    page = await (await browser.new_context()).new_page()
    await _log_in(page, url, "Владелец")
    await page.get_by_role("link", name="Рассылки").click()
    form = page.get_by_role("form", name="Новая рассылка")
    await form.get_by_label("Название").fill("Декабрь")
    await form.get_by_label("Реклама").check()
    await form.get_by_label("Кому (сегмент)").select_option(label="Подписчики в мессенджерах")
    await form.get_by_label("Текст", exact=True).fill("Скидка 20% до конца декабря!")
    await form.get_by_label("Кнопка-ссылка: текст").fill("Цены")
    await form.get_by_label("адрес").fill("https://example.ru/prices")
    step = form.get_by_label("Считать «записавшимися» тех, кто после рассылки дошёл до шага")
    await step.fill("booking.bookd")
    await form.get_by_role("button", name="Предпросмотр").click()
    await expect(page.get_by_role("alert")).to_contain_text(
        "'booking.bookd': в сценарии 'booking' нет шага 'bookd'; может быть, 'booked'?")
    form = page.get_by_role("form", name="Новая рассылка")
    await form.get_by_label("Считать «записавшимися» тех, кто после рассылки дошёл до шага"
                            ).fill("booking.booked")
    await form.get_by_role("button", name="Предпросмотр").click()
    preview = page.get_by_role("region", name="Предпросмотр")
    await expect(preview.get_by_role("heading", level=2)).to_have_text("Получат: 2")
    # each channel of the segment as its connector renders it; the web chat is not in it
    for where, title in (("в MAX", "MAX: получат 1"), ("во ВКонтакте", "ВКонтакте: получат 1")):
        view = preview.get_by_role("article", name=f"Как увидят {where}")
        await expect(view.get_by_role("heading", level=3)).to_have_text(title)
        await expect(view.locator(".bubble")).to_have_text("Скидка 20% до конца декабря!")
        await expect(view.locator(".buttons")).to_have_text(["Отписаться", "Цены ↗"])
    await expect(preview.get_by_role("article", name="Как увидят в чате на сайте")
                 ).to_have_count(0)
    await page.get_by_role("button", name="Запустить").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Декабрь")
    await expect(page.get_by_text("дошли до шага booking.booked")).to_be_visible()
    await expect(page.get_by_role("article", name="Как увидят в MAX")).to_contain_text(
        "Отписаться")
    await expect(page.locator("#broadcast-status")).to_contain_text("Состояние:")
    numbers = page.get_by_role("table", name="Цифры по каналам")
    await expect(numbers).to_contain_text("в очереди")
    await page.get_by_role("link", name="← Рассылки").click()
    await expect(page.get_by_role("link", name="Декабрь")).to_be_visible()


async def test_an_operator_is_refused(
    served: Served, browser: Browser,
) -> None:
    _, _, url = served
    page = await (await browser.new_context()).new_page()
    await _log_in(page, url, "Ольга")
    await expect(page.get_by_role("link", name="Рассылки")).to_have_count(0)
    answer = await page.goto(f"{url}/desk/broadcasts")
    assert answer is not None
    assert answer.status == 403


async def test_on_a_phone_no_owner_page_is_wider_than_the_screen(
    served: Served, browser: Browser,
) -> None:
    """At 390×844 the broadcasts' list reads as one card per broadcast (its table was 536 px
    wide and scrolled the whole page sideways); the other pages of the owner fit too, a
    the list and a conversation with a long name, link and e-mail included."""
    app, _, url = served
    owner = app[EDGE].parts.broadcasts
    for name, title in (("dec", "Скидки в декабре на окрашивание"), ("move", "Перенос приёма")):
        await owner.create(BroadcastSpec(title=title, kind="service", segment="all_who_wrote",
                                         text="Салон закрыт 31 декабря."), name)
    broadcasts = store_of(app).broadcasts  # a broadcast under way: every column counted
    for counter in ("queued", "sent", "replied", "unsubscribed", "converted", "skipped"):
        await broadcasts.count("move", counter, {"max": 120, "vk": 1400, "web": 3})
    store = store_of(app)
    customer = await store.identities.customer_of("max:1")
    assert customer is not None
    await store.profiles.set_field(customer, "email",  # no place to break it but anywhere
                                   "konstantin.konstantinopolsky.salon.client@example-mail.ru")
    await store.profiles.set_field(customer, "name", "Константинопольскийдлиннофамильный")
    await store.history.append(customer, HistoryEntry(
        time.time(), "max", "in", "https://example.ru/" + "a" * 120))
    page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    await _log_in(page, url, "Владелец")
    await page.goto(f"{url}/desk/broadcasts")
    listed = page.get_by_role("table", name="Все рассылки")
    await expect(listed.locator("tbody tr")).to_have_count(2)
    await expect(listed).to_contain_text("Все, кто писал")  # the segment's title, not its id
    await expect(listed).not_to_contain_text("all_who_wrote")
    wide = {}
    for path in ("/desk/broadcasts", "/desk/", f"/desk/c/{customer}", "/desk/audit",
                 "/desk/stats"):
        await page.goto(f"{url}{path}")
        wide[path] = await page.evaluate("document.documentElement.scrollWidth")
    await page.goto(f"{url}/desk/broadcasts")
    await page.get_by_role("link", name="Перенос приёма").click()
    await expect(page.get_by_role("table", name="Цифры по каналам")).to_contain_text("1400")
    await expect(page.get_by_text("сегмент «Все, кто писал")).to_be_visible()
    wide["a broadcast"] = await page.evaluate("document.documentElement.scrollWidth")
    assert wide == dict.fromkeys(wide, 390)
