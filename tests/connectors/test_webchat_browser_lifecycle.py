"""The widget's turn-2 frames in a real Chromium (issue 13, items 4 and 6).

* the greeting is shown when the visitor opens the chat, not while it is closed, and nothing
  reaches the runtime until the visitor writes;
* a page whose origin is refused (close code 4403) says the site is not allowed and stops
  reconnecting (timers fast-forwarded with Playwright's clock: no waiting);
* a server stop closes the socket with 1012 and the widget reconnects by itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, expect
from test_webchat_browser import CHROMIUM, GREETING, ScriptedDialogue, Site, browser

from connectors.webchat import WebChat

__all__ = ["browser"]  # the fixture, shared with the widget's main browser test

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]

# A page of the business's site with the widget closed (no data-open).
CLOSED_PAGE = (
    '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Магазин</title></head>'
    '<body><h1>Магазин</h1><script src="/chat/widget.js" defer></script></body></html>'
)
# Records the close code of every socket the widget opens, before the widget's script runs.
CLOSE_CODES = """
window.__svzCloses = [];
window.__svzSockets = 0;
(function () {
  var Native = window.WebSocket;
  window.WebSocket = function (url) {
    var ws = new Native(url);
    window.__svzSockets += 1;
    ws.addEventListener("close", function (e) { window.__svzCloses.push(e.code); });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  window.WebSocket.OPEN = Native.OPEN;
})();
"""
REFUSED = "Этот сайт не может открыть чат"

SiteFactory = Callable[[Sequence[str]], Awaitable[Site]]


@pytest.fixture
async def make_site() -> AsyncIterator[SiteFactory]:
    runners: list[tuple[WebChat, web.AppRunner]] = []

    async def make(origins: Sequence[str] = ()) -> Site:
        dialogue = ScriptedDialogue()
        chat = WebChat(secret_key=b"browser-test-key-0123456789abcdef", sink=dialogue.sink,
                       history=dialogue.read_history, greeting=dialogue.greeting,
                       allowed_origins=origins, public_url="http://127.0.0.1:8080")
        dialogue.chat = chat
        app = web.Application()
        app.add_routes(chat.routes())

        async def shop(request: web.Request) -> web.Response:
            return web.Response(text=CLOSED_PAGE, content_type="text/html")

        app.router.add_get("/shop", shop)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        await chat.start()
        runners.append((chat, runner))
        return Site(f"http://127.0.0.1:{runner.addresses[0][1]}", chat, dialogue)

    yield make
    for chat, runner in runners:
        await chat.stop()
        await runner.cleanup()


async def sockets_opened(page: Page) -> int:
    return int(await page.evaluate("window.__svzSockets"))


async def test_the_greeting_appears_only_after_the_chat_is_opened(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site(())
    page = await browser.new_page()
    await page.goto(f"{site.url}/shop")
    await expect(page.get_by_label("Сообщение")).to_be_enabled()  # connected, panel closed
    log = page.locator(".svz-log")
    assert await log.locator(".svz-msg").count() == 0
    assert site.dialogue.starts == []
    await page.get_by_role("button", name="Чат").click()
    await expect(page.get_by_role("log")).to_contain_text(GREETING.text)
    assert await log.locator(".svz-out").count() == 1
    assert site.dialogue.starts == []  # shown, not started: nothing stored yet
    await page.get_by_role("log").get_by_role("button", name="Записаться").click()
    await expect(page.get_by_role("log")).to_contain_text("Как вас зовут?")
    assert site.dialogue.starts == [None]  # the first press started the session
    assert await log.locator(".svz-out").filter(has_text=GREETING.text).count() == 1


async def test_a_refused_origin_says_the_site_is_not_allowed_and_stops_reconnecting(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site(("https://shop.example.ru",))  # not this page's origin
    page = await browser.new_page()
    await page.add_init_script(CLOSE_CODES)
    await page.clock.install()
    await page.goto(f"{site.url}/chat")  # the demo page opens the panel
    status = page.get_by_role("status")
    await expect(status).to_contain_text(REFUSED)
    assert await page.evaluate("window.__svzCloses") == [4403]
    await page.clock.fast_forward("05:00")  # every back-off of the old widget has fired
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    assert await page.evaluate("fetch('/chat/widget.css').then(r => r.status)") == 200
    assert await sockets_opened(page) == 1
    await expect(status).to_contain_text(REFUSED)
    await expect(page.get_by_label("Сообщение")).to_be_disabled()


async def test_a_server_stop_closes_with_1012_and_the_widget_reconnects(
    make_site: SiteFactory, browser: Browser
) -> None:
    site = await make_site(())
    page = await browser.new_page()
    await page.add_init_script(CLOSE_CODES)
    await page.goto(f"{site.url}/chat")
    message = page.get_by_label("Сообщение")
    await expect(page.get_by_role("log")).to_contain_text(GREETING.text)
    await site.chat.stop()
    await expect(message).to_be_disabled()
    assert await page.evaluate("window.__svzCloses") == [1012]
    await site.chat.start()
    await expect(message).to_be_enabled(timeout=20_000)
    await expect(page.get_by_role("status")).to_have_text("")
    await expect(page.get_by_role("log")).to_contain_text(GREETING.text)  # greeted again
    assert await sockets_opened(page) >= 2
