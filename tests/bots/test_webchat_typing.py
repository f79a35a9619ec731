"""The web chat's typing indicator ends with the bot's turn, replied or not (issue 16).

The server says ``typing`` as it takes a message; a reply hides the indicator in the widget.
A turn that answers nothing (a flow step that only sets a value, a message sent twice) sent no
reply, so the indicator stayed until the widget's own 8-second fallback. Now the server sends
``{"type": "idle"}`` once no turn of the session's customer runs any more: after the replies of
a replied turn, at once for a silent one. Through ``svyaz run``'s app on real Redis; the last
test in Chromium with the page's timers stopped, so only the server's frame can hide it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from desk_browser import CHROMIUM, browser_fixture  # noqa: F401
from playwright.async_api import Browser, Page, expect
from test_app import chat, make_settings, next_reply
from test_processes import free_port

from bots.app import EDGE, build_app
from tests.widget_typing import WATCH_TYPING

START = """\
flow: start
triggers: [{command: start}]
steps:
  menu:
    ask: Здравствуйте! Напишите что-нибудь.
    save: said
    next: echo
  echo:
    say: "Вы написали: {{ said }}"
"""
# A flow whose one step only sets a value: its turn answers nothing.
QUIET = """\
flow: quiet
triggers: [{text: [тихо]}]
steps:
  nothing:
    set: {hush: "да"}
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "start.yaml").write_text(START, encoding="utf-8")
    (folder / "quiet.yaml").write_text(QUIET, encoding="utf-8")
    return folder


async def frames_until_idle(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The frames up to and including ``idle`` (a receive waits 5 s: no idle fails)."""
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["type"] != "idle":
        seen.append(await ws.receive_json(timeout=5))
    return seen


async def test_a_turn_that_answers_nothing_ends_the_typing_indicator(
    redis_url: str, bot_prefix: str, tmp_path: Path, flows: Path
) -> None:
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, flows=flows))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        ws = await chat(client)
        assert await next_reply(ws) == "Здравствуйте! Напишите что-нибудь."
        await ws.send_json({"type": "text", "text": "привет", "id": "c1"})
        replied = await frames_until_idle(ws)
        assert [f["type"] for f in replied] == ["typing", "reply", "idle"]
        assert replied[1]["text"] == "Вы написали: привет"
        await ws.send_json({"type": "text", "text": "тихо", "id": "c2"})
        assert [f["type"] for f in await frames_until_idle(ws)] == ["typing", "idle"]
        await ws.close()


async def test_a_known_session_s_message_asks_redis_for_its_customer_no_more(
    redis_url: str, bot_prefix: str, tmp_path: Path, flows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before each message the server asks whether a person has the dialogue (no ``typing``
    then) and after it waits for the customer's turns (``idle``): both need the session's
    customer, which this process's intake knows once it accepted the session's first event.
    Each was a read of the account (two round trips a message); the indicator is unchanged."""
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, flows=flows))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        ws = await chat(client)
        assert await next_reply(ws) == "Здравствуйте! Напишите что-нибудь."
        identities = app[EDGE].parts.store.identities
        read = identities.customer_of
        asked: list[str] = []

        async def customer_of(account: str) -> str | None:
            asked.append(account)
            return await read(account)

        monkeypatch.setattr(identities, "customer_of", customer_of)
        await ws.send_json({"type": "text", "text": "привет", "id": "c1"})
        assert [f["type"] for f in await frames_until_idle(ws)] == ["typing", "reply", "idle"]
        await ws.send_json({"type": "text", "text": "тихо", "id": "c2"})
        assert [f["type"] for f in await frames_until_idle(ws)] == ["typing", "idle"]
        assert asked == []
        await ws.close()


async def test_a_message_sent_twice_ends_the_typing_indicator(
    redis_url: str, bot_prefix: str, tmp_path: Path, flows: Path
) -> None:
    """A widget re-sends what it is not sure went out after a reconnect: the second copy is
    dropped by the runtime, no turn runs for it, and the indicator it raised goes again."""
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, flows=flows))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        ws = await chat(client)
        assert await next_reply(ws) == "Здравствуйте! Напишите что-нибудь."
        await ws.send_json({"type": "text", "text": "привет", "id": "c1"})
        assert [f["type"] for f in await frames_until_idle(ws)] == ["typing", "reply", "idle"]
        await ws.send_json({"type": "text", "text": "привет", "id": "c1"})
        assert [f["type"] for f in await frames_until_idle(ws)] == ["typing", "idle"]
        await ws.close()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
async def test_the_widget_hides_typing_once_a_silent_turn_is_over(
    redis_url: str, bot_prefix: str, tmp_path: Path, flows: Path, browser: Browser
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, flows=flows, public_url=url))
    async with TestClient(TestServer(app, host="127.0.0.1", port=port)):
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await page.clock.install()  # the widget's timers run only when the test says so:
        await page.clock.pause_at(1_800_000_000_000)  # its 8 s fallback never hides typing
        await page.goto(f"{url}/chat")
        log = page.get_by_role("log")
        await expect(log).to_contain_text("Напишите что-нибудь")
        message = page.get_by_label("Сообщение")
        await message.fill("привет")
        await message.press("Enter")
        await expect(log).to_contain_text("Вы написали: привет")
        await page.evaluate(WATCH_TYPING)
        await message.fill("тихо")
        await message.press("Enter")
        await _typing_shown(page)
        await expect(page.locator(".svz-typing")).to_be_hidden()
        await page.close()


async def _typing_shown(page: Page) -> None:
    """Wait until the watched indicator has been shown, evaluated from outside: the chat
    page's CSP allows no eval, and ``wait_for_function`` with a string polls in the page by
    eval once its first check (made from outside) is false — a flake whenever the turn's
    typing came a moment after the check (seen in the full suite)."""
    for _ in range(300):
        if await page.evaluate("window.__typingShown === true"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the typing indicator was never shown")
