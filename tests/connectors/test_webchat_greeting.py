"""Regressions of issue 13 (item 4): a web chat visitor who never writes costs nothing durable.

The greeting is shown when the visitor opens the chat (``{"type":"open"}``) and reaches no
sink; the first text or button sends the session's start event ahead of it (the runtime
creates the customer then), and that start turn's greeting is not shown a second time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from test_webchat_server import GREETING, Env, drain, make_env, receive, session_of

from connectors.webchat import WebHistoryItem
from flows.types import Reply, StartEvent, TextEvent


async def test_open_shows_the_greeting_and_nothing_reaches_the_runtime(env: Env) -> None:
    ws, welcome = await env.hello()
    sid = session_of(welcome["session"])
    await ws.send_json({"type": "open"})
    first, second = await receive(ws), await receive(ws)
    assert (first["type"], first["text"]) == ("reply", "Здравствуйте!")
    assert str(first["id"]).startswith(f"{sid}:greeting:")
    assert second["text"] == "Чем помочь?"
    assert second["buttons"] == [{"id": "book", "text": "Записаться"}]
    await ws.send_json({"type": "open"})  # closed and opened again: greeted once per socket
    assert await drain(ws) == []
    assert env.harness.inbound.empty()
    await ws.close()


async def test_no_greeting_before_the_chat_is_opened(env: Env) -> None:
    ws, _ = await env.hello()
    assert await drain(ws) == []
    await ws.close()


async def test_a_visitor_with_a_dialogue_is_not_greeted_again(env: Env) -> None:
    ws, welcome = await env.hello()
    sid = session_of(welcome["session"])
    env.harness.history[sid] = [WebHistoryItem("out", "Здравствуйте!")]
    await ws.close()
    ws, again = await env.hello(str(welcome["session"]))
    assert [h["text"] for h in again["history"]] == ["Здравствуйте!"]  # type: ignore[union-attr]
    await ws.send_json({"type": "open"})
    assert await drain(ws) == []
    await ws.send_json({"type": "text", "text": "ещё", "id": "c1"})
    assert (await env.harness.next()).event == TextEvent("ещё")  # no start: it has begun
    await ws.close()


async def test_a_reload_before_writing_is_greeted_again_and_still_starts(env: Env) -> None:
    ws, welcome = await env.hello()
    await ws.close()
    ws, again = await env.hello(str(welcome["session"]))  # known token, no customer yet
    sid = session_of(again["session"])
    await ws.send_json({"type": "open"})
    assert str((await receive(ws))["id"]).startswith(f"{sid}:greeting:")
    await ws.send_json({"type": "text", "text": "привет", "id": "c1"})
    assert (await env.harness.next()).event == StartEvent()
    await ws.close()


async def test_the_start_turn_does_not_show_the_greeting_twice(env: Env) -> None:
    ws, welcome = await env.hello()
    sid = session_of(welcome["session"])
    await ws.send_json({"type": "open"})
    await receive(ws)
    await receive(ws)
    await ws.send_json({"type": "button", "button": "book", "id": "c1"})
    assert (await env.harness.next()).event == StartEvent()
    await env.harness.next()
    for index, reply in enumerate(GREETING):  # the start turn, as the runtime delivers it
        await env.chat.send(sid, reply, message_key=f"out-{index}")
    await env.chat.send(sid, Reply("Как вас зовут?"), message_key="out-2")
    assert (await receive(ws))["text"] == "Как вас зовут?"
    assert await drain(ws) == []
    await ws.close()


async def test_an_older_widget_that_never_opens_gets_the_greeting_with_its_first_reply(
    env: Env,
) -> None:
    ws, welcome = await env.hello()
    sid = session_of(welcome["session"])
    await ws.send_json({"type": "text", "text": "привет", "id": "c1"})
    assert (await env.harness.next()).event == StartEvent()
    await env.chat.send(sid, GREETING[0], message_key="out-0")
    assert (await receive(ws))["text"] == "Здравствуйте!"
    await ws.close()


async def test_a_link_hello_reaches_the_sink_at_once_and_is_not_greeted(env: Env) -> None:
    ws, welcome = await env.hello(link="tok_EN-123")
    sid = session_of(welcome["session"])
    link = await env.harness.next()
    assert (link.user_id, link.event) == (sid, StartEvent(payload="link-tok_EN-123"))
    await ws.send_json({"type": "open"})
    await ws.send_json({"type": "text", "text": "да", "id": "c1"})
    assert (await env.harness.next()).event == TextEvent("да")  # no second start
    assert await drain(ws) == []
    await ws.close()


async def test_new_customers_per_address_are_limited() -> None:
    env = await make_env(start_rate=0.001, start_burst=2)
    try:
        sockets = []
        for i in range(3):
            ws, _ = await env.hello()
            await ws.send_json({"type": "text", "text": "привет", "id": f"c{i}"})
            sockets.append(ws)
        assert await drain(sockets[2]) == ["rate_limited"]
        assert [(await env.harness.next()).event for _ in range(4)] == [
            StartEvent(), TextEvent("привет"), StartEvent(), TextEvent("привет")]
        assert env.harness.inbound.empty()
        for ws in sockets:
            await ws.close()
    finally:
        await env.chat.stop()
        await env.client.close()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    environment = await make_env()
    yield environment
    await environment.chat.stop()
    await environment.client.close()
