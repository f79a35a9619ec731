"""Issue 16, the web chat as ``svyaz run`` wires it: what the widget is told about the open
question and about the bot's silence.

* a reload at a phone question gets the history with its last bot message marked
  ``request_phone`` (the widget's input row comes back in phone entry); once answered, or while
  a person has the dialogue, it is not marked;
* no ``typing`` frame is announced for a message no bot reply will follow (a hand-off waiting
  for an operator, or held by one); the operator's reply then comes without it.
Real runtime, real Redis, the test flows (``hello`` greets, ``телефон`` asks for the phone,
``оператор`` hands off).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from desk_client import add_operator
from test_app import make_settings

from bots.app import EDGE, build_app

ORIGIN = {"Origin": "http://127.0.0.1:8080"}
AUTH = {"Authorization": "Bearer t0ken"}


@pytest.fixture
async def client(redis_url: str, bot_prefix: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, api_token="t0ken"))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def hello(client: TestClient, session: str | None) -> tuple[
    aiohttp.ClientWebSocketResponse, dict[str, Any]
]:
    ws = await client.ws_connect("/chat/ws", headers=ORIGIN)
    await ws.send_json({"type": "hello", "session": session})
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def until_reply(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The frames up to and with the next reply."""
    frames = []
    while True:
        frame = await ws.receive_json(timeout=5)
        frames.append(frame)
        if frame["type"] == "reply":
            return frames


async def until_idle(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The frames up to and with ``idle``: the turns the socket's messages started are over."""
    frames = [await ws.receive_json(timeout=5)]
    while frames[-1]["type"] != "idle":
        frames.append(await ws.receive_json(timeout=5))
    return frames


async def say(ws: aiohttp.ClientWebSocketResponse, text: str, cid: str) -> list[dict[str, Any]]:
    await ws.send_json({"type": "text", "text": text, "id": cid})
    return await until_reply(ws)


async def started(client: TestClient) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    """A visitor who opened the chat and said their name (a customer now)."""
    ws, welcome = await hello(client, None)
    await ws.send_json({"type": "open"})
    assert (await until_reply(ws))[-1]["text"] == "Как вас зовут?"
    assert (await say(ws, "Анна", "c1"))[-1]["text"].startswith("Приятно познакомиться")
    assert await until_idle(ws) == [{"type": "idle"}]
    return ws, str(welcome["session"])


def last_bot(welcome: dict[str, Any]) -> dict[str, Any]:
    return [h for h in welcome["history"] if h["direction"] == "out"][-1]


async def customer_of(client: TestClient, session: str) -> str:
    store = client.app[EDGE].parts.store
    customer = await store.identities.customer_of(f"web:{session.split('.')[0]}")
    assert customer is not None
    return customer


async def test_a_reload_at_the_phone_question_comes_back_in_phone_entry(
    client: TestClient,
) -> None:
    ws, session = await started(client)
    consent = (await say(ws, "телефон", "c2"))[-1]
    assert consent["text"] == "Согласны на обработку персональных данных?"
    await ws.send_json({"type": "button", "button": "yes", "text": "Да", "id": "c3"})
    asked = (await until_reply(ws))[-1]
    assert asked["text"] == "Ваш телефон?"
    assert asked["request_phone"] is True
    await ws.close()

    again, welcome = await hello(client, session)
    question = last_bot(welcome)
    assert question["text"] == "Ваш телефон?"
    assert question["request_phone"] is True
    assert [h for h in welcome["history"] if h.get("request_phone")] == [question]
    assert (await say(again, "+7 999 123-45-67", "c4"))[-1]["text"] == "Спасибо!"
    await again.close()

    after, welcome = await hello(client, session)  # answered: text entry again
    assert "request_phone" not in last_bot(welcome)
    assert not any(h.get("request_phone") for h in welcome["history"])
    await after.close()


async def test_a_reload_at_a_text_question_stays_in_text_entry(client: TestClient) -> None:
    ws, session = await started(client)
    await ws.close()
    again, welcome = await hello(client, session)
    assert last_bot(welcome)["text"].endswith("Сколько вам лет?")
    assert not any(h.get("request_phone") for h in welcome["history"])
    await again.close()


async def test_no_typing_is_announced_while_a_person_has_the_dialogue(
    client: TestClient,
) -> None:
    await add_operator(client.app, "Мария")  # someone to hear of the hand-off
    ws, session = await started(client)
    frames = await say(ws, "оператор", "c2")  # the bot answers this one: typing first
    assert [f["type"] for f in frames] == ["typing", "reply"]
    assert frames[-1]["text"] == "Зову человека."
    assert await until_idle(ws) == [{"type": "idle"}]  # that turn is over

    # Waiting for an operator: the bot says nothing, so nothing says it is typing. The bad
    # frame after it is answered in order: its error is the next frame the socket gets.
    await ws.send_json({"type": "text", "text": "Алло?", "id": "c3"})
    await ws.send_json({"type": "text", "text": "", "id": "c4"})
    assert (await ws.receive_json(timeout=5))["type"] == "error"

    customer = await customer_of(client, session)
    taken = await client.post(f"/api/v1/customers/{customer}/takeover", headers=AUTH,
                              json={"operator": "Мария"})
    assert taken.status == 200
    await ws.send_json({"type": "text", "text": "Вы здесь?", "id": "c5"})
    await ws.send_json({"type": "text", "text": "", "id": "c6"})
    assert (await ws.receive_json(timeout=5))["type"] == "error"
    sent = await client.post(f"/api/v1/customers/{customer}/messages", headers=AUTH,
                             json={"operator": "Мария", "text": "Здравствуйте, я здесь."})
    assert sent.status == 202
    frames = await until_reply(ws)
    assert [f["type"] for f in frames] == ["reply"]
    assert frames[-1]["from"] == "operator"
    assert frames[-1]["operator"] == "Мария"

    await ws.close()  # and a reload during the hand-off asks for no phone either
    again, welcome = await hello(client, session)
    assert not any(h.get("request_phone") for h in welcome["history"])
    await again.close()
