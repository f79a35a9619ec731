"""Regressions of issue 13 for the web chat as ``svyaz run`` wires it (items 4 and 6).

* a visitor who opens the chat and never writes leaves nothing in Redis; the first message
  creates the customer and the greeting is in its history once;
* shutdown closes the web chat's sockets with 1012 before the turns are drained (before, the
  sockets outlived aiohttp's shutdown timeout and the widget looked connected);
* the default origins are the public URL and localhost on any port, as the README says, and a
  refused page is closed with 4403 and logged once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from test_app import chat, make_settings, next_reply

from bots.app import EDGE, build_app


async def keys_of(client: TestClient, bot: str) -> list[bytes]:
    store = client.app[EDGE].parts.store
    assert store is not None
    return sorted([key async for key in store.redis.scan_iter(match=f"svyaz:{bot}:*")])


async def test_a_visitor_who_never_writes_leaves_nothing_in_redis(
    redis_url: str, bot_prefix: str, tmp_path: Path
) -> None:
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        before = await keys_of(client, bot_prefix)
        for _ in range(5):
            ws = await chat(client)  # hello, open
            assert await next_reply(ws) == "Как вас зовут?"
            await ws.close()
        assert await keys_of(client, bot_prefix) == before
        ws = await chat(client)
        assert await next_reply(ws) == "Как вас зовут?"
        await ws.send_json({"type": "text", "text": "Оля", "id": "c1"})
        assert await next_reply(ws) == "Приятно познакомиться, Оля! Сколько вам лет?"
        services = client.app[EDGE].parts
        assert services.store is not None
        customers = await services.store.history.customers()
        assert len(customers) == 1
        history = await services.store.history.read(customers[0])
        texts = [e.text for e in history if e.direction == "out"]
        assert texts == ["Как вас зовут?", "Приятно познакомиться, Оля! Сколько вам лет?"]
        await ws.close()


async def test_shutdown_closes_web_sockets_with_1012_before_the_drain(
    redis_url: str, bot_prefix: str, tmp_path: Path
) -> None:
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path))
    # A short handler wait: without the fix the socket would outlive it and get no 1012.
    server = TestServer(app, host="127.0.0.1", shutdown_timeout=2.0)
    client = TestClient(server)
    await client.start_server()
    ws = await chat(client)
    assert await next_reply(ws) == "Как вас зовут?"
    runtime = app[EDGE].parts.runtime
    assert runtime is not None
    seen_at_drain: list[int | None] = []
    close: Callable[..., Awaitable[None]] = runtime.close

    async def drain(*args: float) -> None:  # what the socket had got when the drain began
        seen_at_drain.append(ws.close_code)
        await close(*args)

    runtime.close = drain  # type: ignore[method-assign]
    reader = asyncio.create_task(ws.receive())  # a tab reading, as a browser always is
    try:
        await server.close()  # what SIGTERM does: the runner's cleanup
        message = await reader
    finally:
        await client.close()
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 1012
    assert seen_at_drain == [1012]


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:8099", "http://localhost:3000", "http://127.0.0.1:8080"])
async def test_default_origins_are_the_public_url_and_any_localhost_port(
    redis_url: str, bot_prefix: str, tmp_path: Path, origin: str
) -> None:
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path))  # SVYAZ_WEBCHAT_ORIGINS unset
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        ws = await client.ws_connect("/chat/ws", headers={"Origin": origin})
        await ws.send_json({"type": "hello", "session": None})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        await ws.close()


async def test_a_refused_origin_is_closed_with_4403_and_logged_once(
    redis_url: str, bot_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path,
                                  webchat_origins="https://shop.example.ru"))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for _ in range(3):
            ws = await client.ws_connect("/chat/ws", headers={"Origin": "http://127.0.0.1:8099"})
            assert (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4403
    lines = [r.getMessage() for r in caplog.records if "may not open the chat" in r.message]
    assert len(lines) == 1
    assert "'http://127.0.0.1:8099'" in lines[0]
    assert "https://shop.example.ru" in lines[0]
    assert "SVYAZ_WEBCHAT_ORIGINS" in lines[0]


async def test_with_only_the_web_chat_the_menu_offers_no_other_messenger(
    redis_url: str, bot_prefix: str, tmp_path: Path
) -> None:
    """Issue 13 §5: with only the web chat on there is no other channel to continue in, so
    the example menu's «Продолжить в другом мессенджере» is not shown (nor reachable)."""
    examples = Path(__file__).resolve().parents[2] / "flows_examples"
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, flows=examples))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        ws = await chat(client)
        labels: list[str] = []
        while not labels:
            frame = await ws.receive_json(timeout=5)
            labels = [b["text"] for b in frame.get("buttons", [])]
        assert "Записаться на приём" in labels
        assert "Продолжить в другом мессенджере" not in labels
        await ws.close()
