"""Issue 16: the web chat's history reads like the conversation.

A pressed button is kept with its label beside its id (the widget sends both), so a reload
shows «Записаться на приём», not ``booking``, and ``svyaz export`` has both; an entry stored
before (only the id) is shown with the label of the keyboard it answered. Real runtime, real
Redis, the demo flows.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from bots_harness import Harness
from test_app import make_settings, next_reply

from bots.app import EDGE, build_app
from bots.webdialogue import history as web_history
from bots.webdialogue import replay
from flows.types import Button, Inbound, Reply, TextEvent
from storage.codec import reply_from_dict, reply_to_dict
from storage.history import HistoryEntry

ORIGIN = {"Origin": "http://127.0.0.1:8080"}
MENU = "Чем могу помочь?"


async def hello(client: TestClient, session: str | None) -> tuple[
    aiohttp.ClientWebSocketResponse, dict[str, object]
]:
    ws = await client.ws_connect("/chat/ws", headers=ORIGIN)
    await ws.send_json({"type": "hello", "session": session})
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def test_a_pressed_button_is_replayed_and_exported_with_its_label(
    redis_url: str, bot_prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, bot_prefix, tmp_path, flows=Path("flows_examples"))
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        ws, welcome = await hello(client, None)
        await ws.send_json({"type": "open"})
        while MENU not in await next_reply(ws):
            pass
        await ws.send_json({"type": "button", "button": "booking",
                            "text": "Записаться на приём", "id": "b1"})
        await next_reply(ws)
        await ws.close()

        again, resumed = await hello(client, str(welcome["session"]))
        history = resumed["history"]
        assert isinstance(history, list)
        said = [h["text"] for h in history if h["direction"] == "in"]
        assert said == ["Записаться на приём"]
        await again.close()

        store = client.app[EDGE].parts.store
        (customer,) = await store.history.customers()
        out = io.StringIO()
        await store.history.export(customer, "jsonl", out)
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        (pressed,) = [r for r in records if r["note"].startswith("button")]
        assert (pressed["text"], pressed["note"]) == ("Записаться на приём", "button booking")


def test_an_old_entry_with_only_the_id_gets_the_label_of_the_keyboard_it_answered() -> None:
    keyboard = (Button("booking", "Записаться на приём"), Button("human", "Позвать человека"))
    entries = [
        HistoryEntry(ts=1.0, channel="web", direction="out", text=MENU, keyboard=keyboard),
        HistoryEntry(ts=2.0, channel="web", direction="in", text="human", note="button human"),
        HistoryEntry(ts=3.0, channel="web", direction="in", text="human"),  # typed, not pressed
        HistoryEntry(ts=4.0, channel="web", direction="out", text="Мария на связи",
                     note="operator: Мария"),
    ]
    items = replay(entries)
    assert [(i.direction, i.text) for i in items] == [
        ("out", MENU), ("in", "Позвать человека"), ("in", "human"), ("out", "Мария на связи"),
    ]
    assert [i.operator for i in items] == [None, None, None, "Мария"]
    assert [i.at for i in items] == [1.0, 2.0, 3.0, 4.0]


async def test_an_operators_reply_is_recorded_and_replayed_with_the_name(
    harness: Harness,
) -> None:
    customer = await harness.store.identities.resolve("web:s")
    inbound = Inbound("web", "s", "e", TextEvent("Можно человека?"))
    said = Reply("Здравствуйте, это Мария.", operator="Мария")
    assert await harness.runtime.turns._delivery.reply(customer, inbound, [said])
    (entry,) = await harness.store.history.read(customer)
    assert entry.note == "operator: Мария"
    (item,) = await web_history(harness.store, "s")
    assert (item.text, item.operator) == ("Здравствуйте, это Мария.", "Мария")
    assert harness.channels["web"].texts() == ["Здравствуйте, это Мария."]


def test_an_operators_name_survives_the_outbox_and_the_relay_between_processes() -> None:
    said = Reply("Здравствуйте, это Мария.", operator="Мария")
    assert reply_to_dict(said)["operator"] == "Мария"
    assert reply_from_dict(reply_to_dict(said)) == said
    assert "operator" not in reply_to_dict(Reply("бот"))
