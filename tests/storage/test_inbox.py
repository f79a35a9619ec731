"""The per-customer inbox and the JSON codec of every event type."""

from __future__ import annotations

import json

import pytest

from flows.types import (
    Button,
    ButtonEvent,
    CallResultEvent,
    ContactEvent,
    Event,
    Inbound,
    PermissionEvent,
    Reply,
    ResumeEvent,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
)
from storage import codec
from storage.errors import CodecError
from storage.store import Store

EVENTS: list[Event] = [
    TextEvent("Привет 👋"),
    ButtonEvent("yes", "Да"),
    StartEvent(),
    StartEvent("link-abc"),
    ContactEvent("+7 999 123 45 67", "Аня"),
    TimerEvent("visit", "k1", {"day": "2026-12-25", "n": [1, {"a": None}]}),
    CallResultEvent("c1", True, 201, {"id": 7}),
    StartFlowEvent("confirm_order", {"order": 123}),
    ResumeEvent("max"),
    PermissionEvent(False),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_through_json(event: Event) -> None:
    inbound = Inbound(
        channel="max",
        user_id="42",
        event_id="u1",
        event=event,
        reply_to="c9",
        callback_id="cb",
        name="Аня",
    )
    raw = codec.encode_inbound(inbound)
    assert json.loads(raw)["event"]["t"] in codec.EVENT_TYPES
    assert codec.decode_inbound(raw) == inbound


def test_codec_covers_every_event_type() -> None:
    assert {type(e) for e in EVENTS} == set(codec.EVENT_TYPES.values())


def test_reply_round_trips_compactly() -> None:
    reply = Reply("Выберите", (Button("a", "A"), Button("u", "Сайт", "https://x.ru")), True)
    assert codec.decode_reply(codec.encode_reply(reply)) == reply
    assert codec.encode_reply(Reply("hi")) == '{"text":"hi"}'


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '{"channel":"vk","user_id":"1","event_id":"e","event":{"t":"pickle"}}',
        '{"channel":"icq","user_id":"1","event_id":"e","event":{"t":"start"}}',
        '{"channel":"vk","user_id":"1","event_id":"e","event":{"t":"text","bogus":1}}',
        '{"channel":"vk"}',
    ],
)
def test_bad_documents_raise_codec_error(raw: str) -> None:
    with pytest.raises(CodecError):
        codec.decode_inbound(raw)


def _inbound(text: str) -> Inbound:
    return Inbound(channel="vk", user_id="1", event_id=text, event=TextEvent(text))


async def test_pending_is_in_arrival_order_and_done_removes(store: Store) -> None:
    ids = [await store.inbox.push("c1", _inbound(str(i))) for i in range(5)]
    pending = await store.inbox.pending("c1")
    assert [i for i, _ in pending] == ids
    assert ids == sorted(ids, key=lambda s: tuple(map(int, s.split("-"))))
    assert [p.event for _, p in pending] == [TextEvent(str(i)) for i in range(5)]
    await store.inbox.done("c1", ids[1])
    assert [i for i, _ in await store.inbox.pending("c1")] == [ids[0], *ids[2:]]
    assert await store.inbox.pending("c1", count=2) == pending[:1] + pending[2:3]


async def test_customers_with_pending_tracks_work(store: Store) -> None:
    a = await store.inbox.push("a", _inbound("x"))
    await store.inbox.push("b", _inbound("y"))
    assert await store.inbox.customers_with_pending() == ["a", "b"]
    await store.inbox.done("a", a)
    assert await store.inbox.customers_with_pending() == ["b"]
    await store.inbox.done("a", a)  # twice is harmless
    assert await store.inbox.customers_with_pending() == ["b"]


async def test_move_appends_pending_entries_to_another_customer(store: Store) -> None:
    await store.inbox.push("keep", _inbound("k"))
    await store.inbox.push("other", _inbound("o1"))
    await store.inbox.push("other", _inbound("o2"))
    assert await store.inbox.move("other", "keep") == 2
    assert [p.event for _, p in await store.inbox.pending("keep")] == [
        TextEvent("k"),
        TextEvent("o1"),
        TextEvent("o2"),
    ]
    assert await store.inbox.pending("other") == []
    assert await store.inbox.customers_with_pending() == ["keep"]


async def test_an_undecodable_entry_is_dropped_not_blocking(store: Store) -> None:
    await store.redis.xadd(store.keys.inbox("c1"), {"j": '{"event":{"t":"pickle"}}'})
    good = await store.inbox.push("c1", _inbound("ok"))
    assert [i for i, _ in await store.inbox.pending("c1")] == [good]
    assert [i for i, _ in await store.inbox.pending("c1")] == [good]
