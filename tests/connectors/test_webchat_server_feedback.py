"""Issue 16, the server's side of the widget's feedback: ``typing`` ahead of the bot's turn,
refusals that name the refused frame's client id, a pressed button's label in its event, and
replies saying who wrote them and when."""

from __future__ import annotations

import json

import aiohttp
from test_webchat_server import NOW, Env, env, make_env, receive, session_of

from flows.types import Button, ButtonEvent, Reply, TextEvent

__all__ = ["env"]


async def customer(env: Env) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    """A socket of a session whose customer exists (no start event in the way)."""
    ws, welcome = await env.hello()
    sid = session_of(welcome["session"])
    env.harness.history[sid] = []
    await ws.close()
    ws, _ = await env.hello(str(welcome["session"]))
    return ws, sid


async def test_typing_goes_out_as_a_message_is_taken(env: Env) -> None:
    ws, _ = await customer(env)
    await ws.send_json({"type": "text", "text": "Есть окно?", "id": "c-1"})
    assert await receive(ws, typing=True) == {"type": "typing"}
    assert (await env.harness.next()).event == TextEvent("Есть окно?")


async def test_a_pressed_button_carries_its_label(env: Env) -> None:
    ws, sid = await customer(env)
    await ws.send_json({"type": "button", "button": "book", "text": "Записаться", "id": "c-2"})
    assert (await env.harness.next()).event == ButtonEvent("book", text="Записаться")


async def test_refusals_name_the_frame_they_refuse(env: Env) -> None:
    ws, _ = await customer(env)
    too_long = {"type": "text", "text": "я" * 2049, "id": "long-1"}
    await ws.send_json(too_long)
    refused = await receive(ws)
    assert (refused["code"], refused["id"]) == ("too_long", "long-1")
    env.harness.refuse = True
    await ws.send_json({"type": "text", "text": "привет", "id": "lost-2"})
    refused = await receive(ws)
    assert (refused["code"], refused["id"]) == ("unavailable", "lost-2")
    await ws.send_str("not json")
    assert "id" not in await receive(ws)


async def test_a_rate_limited_frame_is_named() -> None:
    env = await make_env(message_rate=0.001, message_burst=1)
    try:
        ws, _ = await customer(env)
        await ws.send_json({"type": "text", "text": "раз", "id": "a1"})
        await env.harness.next()
        await ws.send_json({"type": "text", "text": "два", "id": "a2"})
        refused = await receive(ws)
        assert (refused["code"], refused["id"]) == ("rate_limited", "a2")
    finally:
        await env.chat.stop()
        await env.client.close()


async def test_replies_say_who_wrote_and_when(env: Env) -> None:
    ws, sid = await customer(env)
    await env.chat.send(sid, Reply("Мария на связи", operator="Мария"), message_key="op-1")
    await env.chat.send(sid, Reply("Выберите", (Button("a", "Да"),)), message_key="bot-1")
    operator, bot = await receive(ws), await receive(ws)
    assert (operator["from"], operator["operator"], operator["at"]) == (
        "operator", "Мария", int(NOW * 1000))
    assert bot["from"] == "bot"
    assert "operator" not in bot
    assert json.dumps(bot["buttons"]) == json.dumps([{"id": "a", "text": "Да"}])
