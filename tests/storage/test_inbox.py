"""The per-customer inbox and the JSON codec of every event type."""

from __future__ import annotations

import json
import logging

import pytest
from storage_helpers import RoundTrips

from flows.types import (
    Attachment,
    AttachmentEvent,
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
from storage.inbox import raw_rows
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
    AttachmentEvent((Attachment(id="a1", kind="photo", ref="photo1_2_k", url="https://x/p.jpg",
                                name="дверь.jpg", size=4096, mime="image/jpeg"),
                     Attachment(id="a2", kind="voice", ref="tok")), "Вот"),
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
    assert codec.reply_from_dict(json.loads(json.dumps(codec.reply_to_dict(reply)))) == reply
    assert codec.reply_to_dict(Reply("hi")) == {"text": "hi"}


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '{"channel":"vk","user_id":"1","event_id":"e","event":{"t":"pickle"}}',
        '{"channel":"i c q","user_id":"1","event_id":"e","event":{"t":"start"}}',
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
    assert await _pending_set(store) == {"keep"}  # at once, not only when a sweeper looks
    assert await store.inbox.customers_with_pending() == ["keep"]


async def test_an_undecodable_entry_is_dropped_not_blocking(store: Store) -> None:
    await store.redis.xadd(store.keys.inbox("c1"), {"j": '{"event":{"t":"pickle"}}'})
    good = await store.inbox.push("c1", _inbound("ok"))
    assert [i for i, _ in await store.inbox.pending("c1")] == [good]
    assert [i for i, _ in await store.inbox.pending("c1")] == [good]


async def _pending_set(store: Store) -> set[str]:
    """The global set of customers with pending work, as a sweeper after a crash reads it."""
    return {codec.text(m) for m in await store.redis.smembers(store.keys.pending)}


async def test_done_of_the_last_entry_leaves_the_pending_set_at_once(store: Store) -> None:
    first = await store.inbox.push("c1", _inbound("a"))
    second = await store.inbox.push("c1", _inbound("b"))
    assert await _pending_set(store) == {"c1"}
    await store.inbox.done("c1", first)
    assert await _pending_set(store) == {"c1"}  # one left
    await store.inbox.done("c1", second)
    assert await _pending_set(store) == set()  # not only when a sweeper next looks


async def test_done_while_entries_remain_is_one_round_trip(
    store: Store, round_trips: RoundTrips
) -> None:
    first = await store.inbox.push("c1", _inbound("a"))
    second = await store.inbox.push("c1", _inbound("b"))
    await store.inbox.push("c1", _inbound("c"))
    for entry in (first, second):  # two left, then one
        before = round_trips.count
        await store.inbox.done("c1", entry)
        assert round_trips.count - before == 1  # the pending set is touched only once empty
    assert await _pending_set(store) == {"c1"}


async def test_settle_keeps_a_customer_whose_inbox_refilled(store: Store) -> None:
    """A push that lands between a done's count and its SREM must not be forgotten."""
    await store.inbox.push("c1", _inbound("a"))
    await store.inbox.settle("c1", 0)  # a count of 0 that a racing push made stale
    assert await _pending_set(store) == {"c1"}
    assert [p.event for _, p in await store.inbox.pending("c1")] == [TextEvent("a")]
    await store.inbox.settle("c1", 1)  # entries remain: nothing to do
    assert await _pending_set(store) == {"c1"}


async def test_settle_of_an_empty_inbox_leaves_the_set(store: Store) -> None:
    entry = await store.inbox.push("c1", _inbound("a"))
    await store.redis.xdel(store.keys.inbox("c1"), entry)  # processed by a save elsewhere
    await store.inbox.push("c2", _inbound("b"))
    await store.inbox.settle("c1", 0)
    assert await _pending_set(store) == {"c2"}


async def test_customers_with_pending_drops_the_emptied_ones_from_the_set(store: Store) -> None:
    entry = await store.inbox.push("c1", _inbound("a"))
    await store.inbox.push("c2", _inbound("b"))
    await store.redis.xdel(store.keys.inbox("c1"), entry)  # a save marks it done lazily
    assert await _pending_set(store) == {"c1", "c2"}
    assert await store.inbox.customers_with_pending() == ["c2"]
    assert await _pending_set(store) == {"c2"}


async def test_pending_after_the_lock_uses_the_rows_read_with_it(
    store: Store, round_trips: RoundTrips
) -> None:
    ids = [await store.inbox.push("c1", _inbound(t)) for t in ("a", "b")]
    lease = await store.states.locks.lease("c1")
    before = round_trips.count
    pending = await store.inbox.decode("c1", lease.rows)
    assert round_trips.count == before  # read in the lock's own round trip
    assert [(i, p.event) for i, p in pending] == [
        (ids[0], TextEvent("a")), (ids[1], TextEvent("b"))]
    assert await store.inbox.pending("c1") == pending  # read again: from Redis, the same
    assert round_trips.count == before + 1
    await store.states.locks.release(lease.lock)


async def test_pending_with_a_count_reads_only_that_many(store: Store) -> None:
    ids = [await store.inbox.push("c1", _inbound(t)) for t in ("a", "b", "c")]
    lock = await store.states.locks.acquire("c1")  # the lock read all three
    assert [i for i, _ in await store.inbox.pending("c1", count=2)] == ids[:2]
    await store.states.locks.release(lock)


async def test_a_push_after_the_lock_is_not_hidden_by_what_the_lock_read(store: Store) -> None:
    first = await store.inbox.push("c1", _inbound("a"))
    lock = await store.states.locks.acquire("c1")
    second = await store.inbox.push("c1", _inbound("b"))
    assert [i for i, _ in await store.inbox.pending("c1")] == [first, second]
    await store.inbox.done("c1", first)
    assert [i for i, _ in await store.inbox.pending("c1")] == [second]
    await store.states.locks.release(lock)


async def test_a_done_after_the_lock_is_not_undone_by_what_the_lock_read(store: Store) -> None:
    first = await store.inbox.push("c1", _inbound("a"))
    second = await store.inbox.push("c1", _inbound("b"))
    lock = await store.states.locks.acquire("c1")
    await store.inbox.done("c1", first)
    assert [i for i, _ in await store.inbox.pending("c1")] == [second]
    await store.states.locks.release(lock)


async def test_an_entry_without_its_event_field_is_dropped_and_logged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    bad = await store.redis.xadd(store.keys.inbox("c1"), {"other": "x"})
    await store.redis.sadd(store.keys.pending, "c1")
    with caplog.at_level(logging.ERROR, logger="svyaz.storage"):
        assert await store.inbox.pending("c1") == []
    [record] = [r for r in caplog.records if r.name == "svyaz.storage"]
    message = record.getMessage()
    assert codec.text(bad) in message
    assert "of c1:" in message
    assert message.startswith("dropping undecodable inbox entry ")
    with pytest.raises(CodecError) as reason:
        codec.decode_inbound("{}")
    assert message.endswith(f": {reason.value}")  # the codec's reason
    assert await store.redis.xlen(store.keys.inbox("c1")) == 0  # gone, not blocking
    assert await _pending_set(store) == set()


def test_raw_rows_reads_a_scripts_stream_reply() -> None:
    reply = [[b"1-0", [b"j", b"x", b"k", "y"]], ["2-1", []]]
    assert raw_rows(reply) == [("1-0", {"j": "x", "k": "y"}), ("2-1", {})]
    assert raw_rows(None) == []
    assert raw_rows([]) == []
