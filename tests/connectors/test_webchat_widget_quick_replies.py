"""Issue 16: quick replies stacked full-width on a phone, wrapped evenly on a desktop.

In Debian's Chromium, with 2, 3, 4 and 5 quick replies: at 1280×800 every row spans the whole
keyboard (the last row's buttons share its width), the rows are balanced (3+2 and 2+2, never a
button alone under three) and no label is cut; at 390×844 each button takes the full width.
"""

from __future__ import annotations

from itertools import groupby

import pytest
from playwright.async_api import Browser, Page, expect
from test_webchat_browser import CHROMIUM, browser, session_of
from test_webchat_widget_browser import (
    DESKTOP,
    PHONE,
    SiteFactory,
    WidgetSite,
    make_site,
    open_page,
    page_html,
)

from flows.types import Button, Reply

__all__ = ["browser", "make_site"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]

SHORT = ("Осмотр", "Чистка", "Лечение", "Пломба", "Снимок")
LONG = ("Имплантация", "Отбеливание", "Консультация", "Протезирование",
        "Профессиональная гигиена полости рта и фторирование")

# The last keyboard's buttons, and the keyboard: boxes, and whether each label fits whole.
KEYBOARD = """
() => {
  const rows = document.querySelector("svyaz-chat").shadowRoot.querySelectorAll(".svz-buttons");
  const row = rows[rows.length - 1];
  const box = (e) => { const r = e.getBoundingClientRect();
    return {x: r.x, y: r.y, width: r.width, height: r.height}; };
  return {row: box(row), buttons: [...row.children].map((b) => ({...box(b),
    whole: b.scrollWidth <= b.clientWidth && b.scrollHeight <= b.clientHeight}))};
}
"""

Box = dict[str, float]


async def keyboards(site: WidgetSite, page: Page, labels: tuple[str, ...]) -> list[dict]:
    """The keyboards of 2, 3, 4 and 5 of the labels, as the widget laid each out."""
    await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
    sid = await session_of(page)
    laid = []
    for n in (2, 3, 4, 5):
        buttons = tuple(Button(f"b{i}", label) for i, label in enumerate(labels[:n]))
        await site.chat.send(sid, Reply(f"Выберите ({n})", buttons), message_key=f"q{n}")
        await expect(page.get_by_role("log")).to_contain_text(f"Выберите ({n})")
        laid.append(await page.evaluate(KEYBOARD))
    return laid


def rows_of(buttons: list[Box]) -> list[list[Box]]:
    ordered = sorted(buttons, key=lambda b: (round(b["y"]), b["x"]))
    return [list(row) for _, row in groupby(ordered, key=lambda b: round(b["y"]))]


@pytest.mark.parametrize("labels", [SHORT, LONG], ids=["short", "long"])
async def test_quick_replies_fill_even_rows_on_a_desktop(
    make_site: SiteFactory, browser: Browser, labels: tuple[str, ...]
) -> None:
    site = await make_site()
    page = await open_page(browser, site, page_html(), DESKTOP)
    for n, laid in zip((2, 3, 4, 5), await keyboards(site, page, labels), strict=True):
        row, buttons = laid["row"], laid["buttons"]
        assert len(buttons) == n
        assert all(b["whole"] for b in buttons), f"{n}: a label is cut"
        rows = rows_of(buttons)
        sizes = [len(r) for r in rows]
        assert max(sizes) <= 3, f"{n}: {sizes}"
        assert max(sizes) - min(sizes) <= 1, f"{n}: rows of {sizes} are not even"
        for r in rows:  # each row spans the keyboard, whatever its count
            assert abs(r[0]["x"] - row["x"]) <= 1, f"{n}: {sizes}"
            assert abs(r[-1]["x"] + r[-1]["width"] - row["x"] - row["width"]) <= 1.5, sizes
    if labels is SHORT:  # short labels: three to a row (3+2 for five)
        assert [len(r) for r in rows_of(buttons)] == [3, 2]


async def test_quick_replies_are_stacked_full_width_on_a_phone(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site()
    page = await open_page(browser, site, page_html(), PHONE)
    for laid in await keyboards(site, page, SHORT):
        row, buttons = laid["row"], laid["buttons"]
        assert all(b["whole"] for b in buttons)
        assert all(abs(b["width"] - row["width"]) < 1 for b in buttons)
        assert len({round(b["y"]) for b in buttons}) == len(buttons)
