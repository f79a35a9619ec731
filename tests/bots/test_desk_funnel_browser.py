"""The funnel page in a real Chromium: an operator logs in, opens «Воронка» from the desk's
top bar, sees the booking funnel drawn (SVG stages with their counts), switches the period
and the channel, and downloads the CSV. With ``SVYAZ_SCREENSHOTS=<folder>`` it also saves the
README's picture (docs/desk-funnel-desktop.png) there."""

from __future__ import annotations

import os
from pathlib import Path

from desk_browser import BROWSER_MARKS, browser_fixture, serve  # noqa: F401
from desk_client import PASSWORD, add_operator, store_of
from funnel_seed import seed
from playwright.async_api import Browser, expect

pytestmark = BROWSER_MARKS


async def test_the_booking_funnel_in_the_desk(redis_url: str, bot_prefix: str, tmp_path: Path,
                                              browser: Browser) -> None:
    async with serve(redis_url, bot_prefix, tmp_path) as (app, _, url):
        await add_operator(app, "Ольга")
        await seed(store_of(app))
        page = await (await browser.new_context(viewport={"width": 1280, "height": 900},
                                                accept_downloads=True)).new_page()
        await page.goto(f"{url}/desk/")
        await page.get_by_label("Имя").fill("Ольга")
        await page.get_by_label("Пароль").fill(PASSWORD)
        await page.get_by_role("button", name="Войти").click()
        await page.get_by_role("link", name="Воронка").click()
        await expect(page.get_by_role("heading")).to_have_text("Воронка сценария")
        chart = page.get_by_role("img", name="Воронка: сколько клиентов дошло до каждого шага")
        await expect(chart).to_be_visible()
        await expect(chart.locator('[data-stage="Начали"]')).to_contain_text("40 · 100 %")
        await expect(chart.locator('[data-stage="Завершили"]')).to_contain_text("18 · 45 %")
        box = await chart.locator('[data-stage="service"] rect').bounding_box()
        narrow = await chart.locator('[data-stage="confirm"] rect').bounding_box()
        assert box is not None
        assert narrow is not None
        assert narrow["width"] < box["width"]  # drawn as a funnel: fewer, narrower
        await expect(page.locator('tr[data-step="day"]')).to_contain_text("31")
        folder = os.environ.get("SVYAZ_SCREENSHOTS")
        if folder:
            await page.screenshot(path=Path(folder) / "desk-funnel-desktop.png", full_page=True)

        await page.get_by_label("Период").select_option("30")
        await page.get_by_label("Канал").select_option("vk")
        await page.get_by_role("button", name="Показать").click()
        await expect(page.locator('[data-figure="started"]')).to_have_text("20")
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Скачать CSV").click()
        saved = tmp_path / "funnel.csv"
        await (await download.value).save_as(saved)
        text = saved.read_text(encoding="utf-8-sig")
        assert text.startswith("flow,from,to,channel,step")
        assert ",vk,service," in text
