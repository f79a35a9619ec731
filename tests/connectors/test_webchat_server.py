"""The web chat WebSocket endpoint against aiohttp's real client over loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from connectors.base import Unavailable, Undeliverable
from connectors.webchat import SessionTokens, WebChat, WebHistoryItem
from flows.types import Button, ButtonEvent, Inbound, Reply, StartEvent, TextEvent
from tests.waiting import until

KEY = b"0123456789abcdef0123456789abcdef"
ORIGIN = {"Origin": "http://localhost:8080"}
NOW = 1_800_000_000.5  # the connector's clock in these tests: replies carry it as ``at``
GREETING = (Reply("Здравствуйте!"), Reply("Чем помочь?", (Button("book", "Записаться"),)))


@dataclass
class Harness:
    """The runtime's side of the seam: a sink that records and a history it serves."""

    inbound: asyncio.Queue[Inbound] = field(default_factory=asyncio.Queue)
    history: dict[str, list[WebHistoryItem]] = field(default_factory=dict)
    refuse: bool = False

    async def sink(self, item: Inbound) -> None:
        if self.refuse:
            raise Unavailable("storage down")
        await self.inbound.put(item)

    async def read_history(self, session_id: str) -> list[WebHistoryItem] | None:
        found = self.history.get(session_id)  # None: no customer, as the runtime says
        return None if found is None else list(found)

    def greeting(self) -> tuple[Reply, ...]:
        return GREETING

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.inbound.get(), 5)


@dataclass
class Env:
    harness: Harness
    chat: WebChat
    client: TestClient[web.Request, web.Application]

    async def connect(self, **headers: str) -> aiohttp.ClientWebSocketResponse:
        return await self.client.ws_connect("/chat/ws", headers=headers or ORIGIN)

    async def hello(
        self, session: str | None = None, link: str | None = None
    ) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, object]]:
        ws = await self.connect()
        frame: dict[str, object] = {"type": "hello", "session": session}
        if link is not None:
            frame["link"] = link
        await ws.send_json(frame)
        return ws, await receive(ws)


async def receive(
    ws: aiohttp.ClientWebSocketResponse, *, typing: bool = False
) -> dict[str, object]:
    """The next frame; ``typing`` frames are skipped unless asked for."""
    while True:
        message = await ws.receive(timeout=5)
        assert message.type is WSMsgType.TEXT, message
        data = json.loads(message.data)
        assert isinstance(data, dict)
        if typing or data.get("type") != "typing":
            return data


async def drain(ws: aiohttp.ClientWebSocketResponse) -> list[object]:
    """Codes of the error frames waiting on ``ws``, until it stays quiet for half a second."""
    codes = []
    while True:
        try:
            codes.append((await asyncio.wait_for(receive(ws), 0.5))["code"])
        except TimeoutError:
            return codes


async def send_huge_then_more(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_str("x" * (10 * 1024 * 1024))
    await ws.send_str("x")  # the server has closed by now


async def make_env(**options: object) -> Env:
    harness = Harness()
    settings: dict[str, object] = {"allowed_origins": (), "clock": lambda: NOW, **options}
    chat = WebChat(
        secret_key=KEY,
        sink=harness.sink,
        history=harness.read_history,
        greeting=harness.greeting,
        public_url="https://bot.example.ru",
        **settings,  # type: ignore[arg-type]
    )
    app = web.Application()
    app.add_routes(chat.routes())
    await chat.start()
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    return Env(harness, chat, client)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    environment = await make_env()
    yield environment
    await environment.chat.stop()
    await environment.client.close()


def session_of(token: object) -> str:
    assert isinstance(token, str)
    sid = SessionTokens(KEY).verify(token)
    assert sid is not None
    return sid


async def test_a_new_session_gets_a_welcome_and_nothing_reaches_the_runtime(env: Env) -> None:
    ws, welcome = await env.hello()
    assert welcome["type"] == "welcome"
    assert welcome["history"] == []
    session_of(welcome["session"])
    assert await drain(ws) == []
    assert env.harness.inbound.empty()  # no customer for a visitor who only looks
    await ws.close()


async def test_the_first_message_starts_the_session_then_is_sent(env: Env) -> None:
    ws, welcome = await env.hello()
    sid = session_of(welcome["session"])
    await ws.send_json({"type": "text", "text": "привет", "id": "c1"})
    start, text = await env.harness.next(), await env.harness.next()
    here = hashlib.sha256(b"127.0.0.1").hexdigest()[:16]  # the address, as a digest only
    assert start == Inbound(channel="web", user_id=sid, event_id=f"{sid}:start", event=StartEvent(),
                            address=here)
    assert text == Inbound(channel="web", user_id=sid, event_id=f"{sid}:c1",
                           event=TextEvent("привет"), address=here)
    await ws.send_json({"type": "button", "button": "book", "id": "c2"})
    assert (await env.harness.next()).event == ButtonEvent("book")  # started once
    await ws.close()


async def test_resume_replays_history_and_does_not_restart(env: Env) -> None:
    ws, welcome = await env.hello()
    sid = session_of(welcome["session"])
    await ws.close()
    env.harness.history[sid] = [
        WebHistoryItem("out", "Здравствуйте!", (Button("a", "Записаться"),)),
        WebHistoryItem("in", "Записаться"),
    ]
    ws, again = await env.hello(str(welcome["session"]))
    assert session_of(again["session"]) == sid
    assert again["history"] == [
        {
            "direction": "out",
            "text": "Здравствуйте!",
            "buttons": [{"id": "a", "text": "Записаться"}],
            "from": "bot",
        },
        {"direction": "in", "text": "Записаться", "buttons": []},
    ]
    await ws.send_json({"type": "text", "text": "ещё", "id": "c1"})
    assert (await env.harness.next()).event == TextEvent("ещё")  # no second StartEvent before it
    await ws.close()


@pytest.mark.parametrize("kind", ["forged", "other key", "expired", "garbage"])
async def test_bad_token_gets_a_fresh_session_never_the_victims_history(
    env: Env, kind: str
) -> None:
    victim = SessionTokens(KEY).issue()
    env.harness.history[victim.session_id] = [WebHistoryItem("in", "мой секрет")]
    sid, issued, signature = victim.token.split(".")
    token = {
        "forged": f"{sid}.{issued}.{'A' * 43}",
        "other key": SessionTokens(b"x" * 32).issue(sid).token,
        "expired": SessionTokens(KEY, clock=lambda: 1_000_000.0).issue(sid).token,
        "garbage": "💥" * 40,
    }[kind]
    ws, welcome = await env.hello(token)
    assert welcome["history"] == []
    fresh = session_of(welcome["session"])
    assert fresh != victim.session_id
    await ws.send_json({"type": "text", "text": "hi", "id": "c1"})
    start = await env.harness.next()
    assert (start.user_id, start.event) == (fresh, StartEvent())
    await ws.close()


async def test_link_hello_starts_with_the_link_payload(env: Env) -> None:
    ws, welcome = await env.hello(link="tok_EN-123")
    sid = session_of(welcome["session"])
    start = await env.harness.next()
    assert start.event == StartEvent(payload="link-tok_EN-123")
    assert start.event_id.startswith(f"{sid}:link:")
    assert "tok_EN-123" not in start.event_id
    await ws.close()


async def test_text_and_button_frames_become_events_with_dedupable_ids(env: Env) -> None:
    ws, welcome = await env.hello()
    sid = session_of(welcome["session"])
    env.harness.history[sid] = []  # a customer already
    await ws.close()
    ws, _ = await env.hello(str(welcome["session"]))
    await ws.send_json({"type": "text", "text": "Привет 👋 <b>", "id": "c-1"})
    await ws.send_json({"type": "button", "button": "book", "id": "c-2"})
    text, button = await env.harness.next(), await env.harness.next()
    here = hashlib.sha256(b"127.0.0.1").hexdigest()[:16]
    assert text == Inbound("web", sid, f"{sid}:c-1", TextEvent("Привет 👋 <b>"), address=here)
    assert button == Inbound("web", sid, f"{sid}:c-2", ButtonEvent("book"), address=here)
    await ws.close()


@pytest.mark.parametrize(
    "origin",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"X-No-Origin": "1"},
        {"Origin": "http://localhost.evil.example"},
    ],
)
async def test_foreign_origin_is_closed_with_4403(env: Env, origin: dict[str, str]) -> None:
    ws = await env.connect(**origin)
    assert (await ws.receive(timeout=5)).type is WSMsgType.CLOSE
    assert ws.close_code == 4403  # the widget stops reconnecting and says why
    assert env.harness.inbound.empty()
    plain = await env.client.get("/chat/ws", headers=origin)  # no upgrade: a plain 403
    assert plain.status == 403


async def test_a_refused_origin_is_logged_once_with_the_setting(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "svyaz.connectors.webchat")
    for origin in ("https://shop.example", "https://shop.example", "https://other.example"):
        ws = await env.connect(Origin=origin)
        await ws.receive(timeout=5)
    refused = [r.getMessage() for r in caplog.records if "may not open the chat" in r.message]
    assert len(refused) == 2
    assert "'https://shop.example'" in refused[0]
    assert "SVYAZ_WEBCHAT_ORIGINS" in refused[0]


@pytest.mark.parametrize(
    "origin", ["https://bot.example.ru", "http://127.0.0.1:5000", "http://localhost:3000"]
)
async def test_default_origins(env: Env, origin: str) -> None:
    ws = await env.connect(Origin=origin)
    await ws.close()


async def test_configured_origins_replace_the_default() -> None:
    env = await make_env(allowed_origins=["https://shop.example.ru"])
    try:
        ws = await env.connect(Origin="https://shop.example.ru")
        await ws.close()
        refused = await env.connect(Origin="http://localhost:8080")
        assert (await refused.receive(timeout=5)).type is WSMsgType.CLOSE
        assert refused.close_code == 4403
    finally:
        await env.chat.stop()
        await env.client.close()


async def test_frames_before_hello_and_bad_frames_get_errors_and_the_socket_stays(
    env: Env,
) -> None:
    ws = await env.connect()
    await ws.send_json({"type": "text", "text": "hi", "id": "1"})
    assert (await receive(ws))["code"] == "hello_first"
    await ws.send_str("{nope")
    assert (await receive(ws))["code"] == "bad_frame"
    await ws.send_json({"type": "hello", "session": None})
    assert (await receive(ws))["type"] == "welcome"
    await ws.send_bytes(b"\x00\x01")
    assert (await receive(ws))["code"] == "bad_frame"
    await ws.send_json({"type": "text", "text": "я" * 2049, "id": "2"})
    assert (await receive(ws))["code"] == "too_long"
    await ws.send_json({"type": "text", "text": "ok", "id": "3"})
    assert (await env.harness.next()).event == StartEvent()
    assert (await env.harness.next()).event == TextEvent("ok")
    await ws.close()


async def test_a_socket_that_never_says_hello_is_closed() -> None:
    env = await make_env(hello_timeout=0.2)
    try:
        chatty = await env.connect()
        for i in range(5):
            await chatty.send_json({"type": "text", "text": "hi", "id": str(i)})
        assert [(await receive(chatty))["code"] for _ in range(5)] == ["hello_first"] * 5
        assert (await chatty.receive(timeout=5)).type is WSMsgType.CLOSE
        assert chatty.close_code == 1008
        silent = await env.connect()
        assert (await silent.receive(timeout=5)).type is WSMsgType.CLOSE
        assert silent.close_code == 1008
        assert env.harness.inbound.empty()
    finally:
        await env.chat.stop()
        await env.client.close()


async def test_rate_limit_per_session_across_sockets() -> None:
    env = await make_env(message_rate=0.01, message_burst=4)
    try:
        ws1, welcome = await env.hello()
        ws2, _ = await env.hello(str(welcome["session"]))
        for i in range(3):
            await ws1.send_json({"type": "text", "text": "a", "id": f"a{i}"})
            await ws2.send_json({"type": "text", "text": "b", "id": f"b{i}"})
        codes = [code for ws in (ws1, ws2) for code in await drain(ws)]
        assert codes == ["rate_limited", "rate_limited"]
        assert env.harness.inbound.qsize() == 5  # the start and four messages
    finally:
        await env.chat.stop()
        await env.client.close()


async def _until_sockets(env: Env, count: int) -> None:
    """Until the server has let go of closed sockets: ``count`` left open (its health)."""
    await until(lambda: str(env.chat.health()["detail"]).startswith(f"{count} sockets"),
                what=f"{count} open sockets")


async def test_connections_per_address_are_limited() -> None:
    env = await make_env(max_connections_per_ip=2)
    try:
        first, second = await env.connect(), await env.connect()
        third = await env.connect()
        assert (await receive(third))["code"] == "too_many_connections"
        closing = await third.receive(timeout=5)
        assert closing.type is WSMsgType.CLOSE
        assert third.close_code == 1013
        await first.close()
        await _until_sockets(env, 1)  # the server let go of the closed one
        fourth = await env.connect()
        await fourth.send_json({"type": "hello", "session": None})
        assert (await receive(fourth))["type"] == "welcome"
        for ws in (second, fourth):
            await ws.close()
    finally:
        await env.chat.stop()
        await env.client.close()


async def test_send_reaches_every_tab_of_the_session_only(env: Env) -> None:
    tab1, welcome = await env.hello()
    sid = session_of(welcome["session"])
    tab2, _ = await env.hello(str(welcome["session"]))
    stranger, _ = await env.hello()
    await env.chat.send(sid, Reply("Ответ", (Button("x", "Да"),)), message_key="k-1")
    for tab in (tab1, tab2):
        assert await receive(tab) == {
            "type": "reply",
            "text": "Ответ",
            "buttons": [{"id": "x", "text": "Да"}],
            "id": "k-1",
            "request_phone": False,
            "from": "bot",
            "at": 1_800_000_000_500,
        }
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stranger.receive(), 0.3)
    await tab1.close()
    await _until_sockets(env, 2)
    await env.chat.send(sid, Reply("Ещё"), message_key="k-2")
    assert (await receive(tab2))["text"] == "Ещё"
    for ws in (tab2, stranger):
        await ws.close()


async def test_send_to_an_offline_session_is_undeliverable(env: Env) -> None:
    with pytest.raises(Undeliverable):
        await env.chat.send("nobody-home-000000000", Reply("?"), message_key="k")
    ws, welcome = await env.hello()
    sid = session_of(welcome["session"])
    await ws.close()
    await _until_sockets(env, 0)
    with pytest.raises(Undeliverable):
        await env.chat.send(sid, Reply("?"), message_key="k")


async def test_unrecorded_event_tells_the_client_to_retry(env: Env) -> None:
    ws, _ = await env.hello()
    env.harness.refuse = True
    await ws.send_json({"type": "text", "text": "hi", "id": "1"})
    assert (await receive(ws))["code"] == "unavailable"
    await ws.close()


async def test_huge_frame_closes_that_socket_and_the_server_goes_on(env: Env) -> None:
    ws, _ = await env.hello()
    with pytest.raises(ConnectionError):
        await send_huge_then_more(ws)
    closed = await ws.receive(timeout=5)
    assert closed.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR)
    assert ws.close_code in (1009, 1006)  # too big, or the connection dropped while writing
    nxt, welcome = await env.hello()
    assert welcome["type"] == "welcome"
    await nxt.close()


async def test_stop_closes_every_socket_with_1012(env: Env) -> None:
    sockets = [(await env.hello())[0] for _ in range(3)]
    await env.chat.stop()
    for ws in sockets:
        message = await ws.receive(timeout=5)
        assert message.type is WSMsgType.CLOSE
        assert ws.close_code == 1012  # service restart: the widget reconnects
    assert env.chat.health()["ok"] is False
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await env.connect()


async def test_static_routes(env: Env) -> None:
    page = await env.client.get("/chat")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert "/chat/widget.js" in await page.text()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    widget = await env.client.get("/chat/widget.js")
    assert widget.content_type == "text/javascript"
    assert len(await widget.read()) < 30 * 1024
    css = await env.client.get("/chat/widget.css")
    assert css.content_type == "text/css"
    plain = await env.client.get("/chat/ws", headers=ORIGIN)
    assert plain.status == 400
