"""Issue 16: the widget as a visitor meets it, in Debian's Chromium.

* a host page's styles change nothing inside the widget (Shadow DOM);
* the owner's brand (settings or ``data-`` attributes) with readable text on any colour;
* the phone question stays in view at 390×844, in one input row, placeholder whole;
* the launcher: round, unread badge, × when open; quick replies stacked on a phone, wrapped on
  a desktop;
* keyboard-only use, visible focus (3:1), new messages in an ``aria-live`` log, a name on
  every control, and axe-core finding no serious or critical violation.
The WebChat runs with the scripted dialogue of ``test_webchat_browser``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, ViewportSize, expect
from test_webchat_browser import CHROMIUM, ScriptedDialogue, Site, browser, session_of

from connectors.webchat import Brand, WebChat, WebHistoryItem
from flows.types import Reply

__all__ = ["browser"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]

AXE = Path(__file__).parents[1] / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # 4.14.1
HOSTILE = "p {font-size:18px} h2 {font-family:Impact} * {letter-spacing:3px}"
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)


def page_html(styles: str = "", attributes: str = 'data-open="true"') -> str:
    return (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Клиника</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{styles}</style></head><body><main><h1>Клиника</h1><p>Текст сайта.</p>"
        f'</main><script src="/chat/widget.js" {attributes} defer></script></body></html>'
    )


@dataclass
class WidgetSite(Site):
    pages: dict[str, str] = field(default_factory=dict)  # served at /page/<name>


SiteFactory = Callable[..., Awaitable[WidgetSite]]


@pytest.fixture
async def make_site() -> AsyncIterator[SiteFactory]:
    runners: list[tuple[WebChat, web.AppRunner]] = []

    async def make(
        brand: Brand | None = None, dialogue: ScriptedDialogue | None = None, **options: object
    ) -> WidgetSite:
        dialogue = dialogue or ScriptedDialogue()
        chat = WebChat(secret_key=b"browser-test-key-0123456789abcdef", sink=dialogue.sink,
                       history=dialogue.read_history, greeting=dialogue.greeting,
                       public_url="http://127.0.0.1:8080", brand=brand,
                       **options)  # type: ignore[arg-type]
        dialogue.chat = chat
        app = web.Application()
        app.add_routes(chat.routes())
        pages: dict[str, str] = {}

        async def serve(request: web.Request) -> web.Response:
            return web.Response(text=pages[request.match_info["name"]], content_type="text/html")

        app.router.add_get("/page/{name}", serve)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        await chat.start()
        runners.append((chat, runner))
        return WidgetSite(f"http://127.0.0.1:{runner.addresses[0][1]}", chat, dialogue, pages)

    yield make
    for chat, runner in runners:
        await chat.stop()
        await runner.cleanup()


async def open_page(
    browser: Browser, site: WidgetSite, html: str, viewport: ViewportSize
) -> Page:
    name = f"p{len(site.pages)}"
    site.pages[name] = html
    page = await browser.new_page(viewport=viewport)
    await page.goto(f"{site.url}/page/{name}")
    return page


STYLE_PROBE = """
() => {
  const root = document.querySelector("svyaz-chat").shadowRoot;
  const pick = (sel) => {
    const s = getComputedStyle(root.querySelector(sel));
    return [s.fontSize, s.fontFamily, s.letterSpacing, s.lineHeight, s.color];
  };
  return Object.fromEntries([".svz-text", ".svz-title", ".svz-input", ".svz-choice",
    ".svz-send"].map((sel) => [sel, pick(sel)]));
}
"""


async def test_host_page_styles_change_nothing_in_the_widget(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site()
    looks = []
    for styles in ("", HOSTILE):
        page = await open_page(browser, site, page_html(styles), DESKTOP)
        await expect(page.get_by_role("log")).to_contain_text("Здравствуйте!")
        assert await page.evaluate("document.querySelector('.svz-root')") is None  # shadow
        assert await page.evaluate("getComputedStyle(document.querySelector('main p'))"
                                   ".letterSpacing") == ("3px" if styles else "normal")
        looks.append(await page.evaluate(STYLE_PROBE))
    plain, hostile = looks
    assert hostile == plain
    assert plain[".svz-text"][2] == "normal"


def _rgb(css: str) -> tuple[int, ...]:
    inside = css[css.index("(") + 1:css.index(")")]
    return tuple(int(float(part)) for part in inside.replace("/", ",").split(",")[:3])


def contrast(a: str, b: str) -> float:
    def luminance(color: str) -> float:
        def channel(value: int) -> float:
            x = value / 255
            return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

        r, g, b_ = (channel(v) for v in _rgb(color))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    x, y = luminance(a) + 0.05, luminance(b) + 0.05
    return max(x, y) / min(x, y)


async def style(page: Page, selector: str, prop: str) -> str:
    value = await page.locator(selector).first.evaluate(
        f"(node) => getComputedStyle(node).{prop}")
    assert isinstance(value, str)
    return value


@pytest.mark.parametrize("color", ["#ffe600", "#2f6fde", "#7a7a7a", "#0b1f3a"])
async def test_the_brand_from_settings_reads_well_on_any_colour(
    make_site: SiteFactory, browser: Browser, color: str
) -> None:
    brand = Brand(title="Клиника «Улыбка»", color=color, greeting="Ответим за пару минут",
                  avatar="/page/avatar")
    site = await make_site(brand)
    page = await open_page(browser, site, page_html(), DESKTOP)
    await expect(page.get_by_role("heading", name="Клиника «Улыбка»")).to_be_visible()
    await expect(page.locator(".svz-tagline")).to_have_text("Ответим за пару минут")
    assert await page.locator(".svz-avatar img").get_attribute("src") == f"{site.url}/page/avatar"
    header_bg = await style(page, ".svz-header", "backgroundColor")
    assert _rgb(header_bg) == tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    assert contrast(await style(page, ".svz-title", "color"), header_bg) >= 4.5
    white = "rgb(255, 255, 255)"
    assert contrast(await style(page, ".svz-choice", "color"), white) >= 4.5
    assert contrast(await style(page, ".svz-choice", "borderTopColor"), white) >= 3


async def test_data_attributes_override_the_settings(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site(Brand(title="Из настроек", color="#2f6fde"))
    attributes = ('data-open="true" data-title="С сайта" data-color="#7c3aed" '
                  'data-position="left" data-greeting="Мы онлайн"')
    page = await open_page(browser, site, page_html(attributes=attributes), DESKTOP)
    await expect(page.get_by_role("heading", name="С сайта")).to_be_visible()
    await expect(page.locator(".svz-tagline")).to_have_text("Мы онлайн")
    assert _rgb(await style(page, ".svz-header", "backgroundColor")) == (0x7C, 0x3A, 0xED)
    box = await page.locator(".svz-panel").bounding_box()
    assert box is not None
    assert box["x"] < 100  # the left corner


async def say(page: Page, text: str) -> None:
    message = page.get_by_label("Сообщение")
    await message.fill(text)
    await message.press("Enter")


async def test_the_phone_question_stays_in_view_at_390x844(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site()
    page = await open_page(browser, site, page_html(), PHONE)
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Здравствуйте!")
    sid = await session_of(page)
    site.dialogue.seed(sid)  # a long talk before the greeting's menu: the log scrolls
    earlier = [WebHistoryItem(side, f"Сообщение номер {i}") for i in range(8)
               for side in ("in", "out")]
    site.dialogue.history[sid][:0] = earlier
    await page.reload()
    await expect(log).to_contain_text("Сообщение номер 7")
    await log.get_by_role("button", name="Записаться").click()
    await expect(log).to_contain_text("Как вас зовут?")
    await say(page, "Анна")
    question = page.locator(".svz-msg").filter(has_text="Оставьте телефон")
    await expect(question).to_be_visible()
    phone = page.get_by_label("Номер телефона")
    await expect(phone).to_be_focused()
    assert await phone.get_attribute("type") == "tel"
    assert await page.locator(".svz-form").count() == 1  # one row, switched to phone entry
    await expect(page.get_by_label("Сообщение")).to_have_count(0)
    await expect(page.get_by_role("button", name="Отправить номер")).to_be_visible()
    described = await phone.get_attribute("aria-describedby")
    assert described
    assert described == await question.get_attribute("id")
    seen, view = await question.bounding_box(), await log.bounding_box()
    assert seen is not None
    assert view is not None
    assert view["y"] <= seen["y"]
    assert seen["y"] + seen["height"] <= view["y"] + view["height"]
    assert seen["y"] + seen["height"] <= PHONE["height"]
    fits = await phone.evaluate("""(input) => {
      const s = getComputedStyle(input);
      const ctx = document.createElement("canvas").getContext("2d");
      ctx.font = `${s.fontSize} ${s.fontFamily}`;
      const room = input.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
      return ctx.measureText(input.placeholder).width <= room;
    }""")
    assert fits, "the phone placeholder is cut"
    await phone.fill("+7 999 123-45-67")
    await phone.press("Enter")
    await expect(log).to_contain_text("Спасибо! Перезвоним на +7 999 123-45-67.")
    await expect(page.get_by_label("Сообщение")).to_be_focused()


async def test_quick_replies_stack_on_a_phone_and_wrap_on_a_desktop(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site()
    for viewport in (PHONE, DESKTOP):
        page = await open_page(browser, site, page_html(), viewport)
        first = page.get_by_role("button", name="Записаться")
        second = page.get_by_role("button", name="Задать вопрос")
        await expect(second).to_be_visible()
        a, b = await first.bounding_box(), await second.bounding_box()
        row = await page.locator(".svz-buttons").first.bounding_box()
        assert a is not None
        assert b is not None
        assert row is not None
        if viewport is PHONE:
            assert a["width"] == b["width"] == row["width"]
            assert b["y"] > a["y"]
        else:
            assert a["y"] == b["y"]  # side by side, filling the row
            assert abs(a["x"] + a["width"] + 6 - b["x"]) < 1
        await page.close()


async def test_the_launcher_is_round_with_an_unread_badge_and_turns_into_a_cross(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site()
    page = await open_page(browser, site, page_html(attributes=""), DESKTOP)
    launcher = page.get_by_role("button", name="Открыть чат")
    await expect(launcher).to_be_visible()
    box = await launcher.bounding_box()
    assert box is not None
    assert box["width"] == box["height"]
    assert await style(page, ".svz-launcher", "borderTopLeftRadius") == "50%"
    await launcher.click()
    await say(page, "Привет")
    await expect(page.get_by_role("log")).to_contain_text("Вы написали: Привет")
    cross = page.locator(".svz-launcher")
    await expect(cross).to_have_attribute("aria-label", "Закрыть чат")
    await expect(page.locator(".svz-launcher .svz-icon-close")).to_be_visible()
    await expect(page.locator(".svz-launcher .svz-icon-chat")).to_be_hidden()
    await cross.click()
    await expect(page.get_by_role("log")).to_be_hidden()
    sid = await session_of(page)
    for key in ("u1", "u2"):
        await site.chat.send(sid, Reply("Ответ, пока чат закрыт"),
                             message_key=key)
    await expect(page.locator(".svz-badge")).to_have_text("2")
    unread = page.get_by_role("button", name="Открыть чат (новых сообщений: 2)")
    await expect(unread).to_be_visible()
    await page.locator(".svz-launcher").click()
    await expect(page.locator(".svz-badge")).to_be_hidden()


async def test_keyboard_only_use(make_site: SiteFactory, browser: Browser) -> None:
    site = await make_site()
    page = await open_page(browser, site, page_html(attributes=""), DESKTOP)
    launcher = page.get_by_role("button", name="Открыть чат")
    await expect(launcher).to_be_visible()  # (the widget's script has run: Tab has a target)
    await page.keyboard.press("Tab")  # the launcher is the page's only control
    await expect(launcher).to_be_focused()
    await page.keyboard.press("Enter")
    message = page.get_by_label("Сообщение")
    await expect(message).to_be_focused()
    choice = page.get_by_role("button", name="Записаться")
    await expect(choice).to_be_visible()
    await choice.focus()
    outline = await style(page, ".svz-choice:focus-visible", "outlineColor")
    assert await style(page, ".svz-choice:focus-visible", "outlineStyle") == "solid"
    assert contrast(outline, "rgb(243, 245, 249)") >= 3  # on the log's background
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("log")).to_contain_text("Как вас зовут?")
    await expect(message).to_be_focused()  # focus stays in the input after a choice
    border = await style(page, ".svz-input", "borderTopColor")
    assert contrast(border, "rgb(255, 255, 255)") >= 3
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("log")).to_be_hidden()
    await expect(page.get_by_role("button", name="Открыть чат")).to_be_focused()


UNNAMED_CONTROLS = """() => {
  const root = document.querySelector("svyaz-chat").shadowRoot;
  return [...root.querySelectorAll("button, input, a, textarea, select")].filter((n) => {
    const label = n.id ? root.querySelector(`label[for="${n.id}"]`) : null;
    return !(n.getAttribute("aria-label") || n.textContent.trim() ||
             (label && label.textContent.trim()));
  }).map((n) => n.outerHTML);
}"""


async def test_new_messages_are_announced_and_every_control_is_labelled(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site()
    page = await open_page(browser, site, page_html(), PHONE)
    log = page.get_by_role("log", name="Сообщения чата")
    await expect(log).to_have_attribute("aria-live", "polite")
    await expect(log).to_contain_text("Здравствуйте!")
    await log.get_by_role("button", name="Записаться").click()
    await say(page, "Анна")
    said = log.locator(".svz-msg").last  # added inside the live region, with who said it
    await expect(said).to_contain_text("Приятно познакомиться, Анна!")
    await expect(said.locator(".svz-sr")).to_have_text("Бот: ")
    await expect(log.locator(".svz-in").last.locator(".svz-sr")).to_have_text("Вы: ")
    await expect(page.get_by_role("status")).to_be_attached()  # connection news
    await expect(page.get_by_label("Номер телефона")).to_be_visible()
    assert await page.evaluate(UNNAMED_CONTROLS) == []


async def axe_serious(page: Page) -> list[str]:
    source = AXE.read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256
    await page.add_script_tag(content=source.decode())
    found = await page.evaluate("""async () => {
      const result = await axe.run(document);
      const inWidget = result.passes
        .filter((r) => r.nodes.some((n) => Array.isArray(n.target[0])));
      return [inWidget.length, result.violations
        .filter((v) => ["serious", "critical"].includes(v.impact))
        .map((v) => v.id + ": " + JSON.stringify(v.nodes.map((n) => n.target)))];
    }""")
    checked, serious = found
    assert checked > 5  # axe looked inside the widget's shadow root
    return [str(item) for item in serious]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_axe_finds_no_serious_or_critical_violation(
    make_site: SiteFactory, browser: Browser, viewport: ViewportSize
) -> None:
    site = await make_site(Brand(color="#ffe600", greeting="Ответим за пару минут"))
    page = await open_page(browser, site, page_html(), viewport)
    log = page.get_by_role("log")
    await expect(log).to_contain_text("Здравствуйте!")
    assert await axe_serious(page) == []
    await log.get_by_role("button", name="Записаться").click()
    await say(page, "Анна")
    await expect(page.get_by_label("Номер телефона")).to_be_visible()
    await site.chat.send(await session_of(page), Reply("Здравствуйте, это Мария.",
                         operator="Мария"), message_key="op")
    await expect(log).to_contain_text("Мария, оператор")
    assert await axe_serious(page) == []
