"""The outbox: written before sending, acknowledged after, stale entries claimed once."""

from __future__ import annotations

import asyncio

from flows.types import Button, Reply
from storage.outbox import random_id_for
from storage.store import Store

REPLY = Reply("Ждём вас завтра", (Button("ok", "Хорошо"),))


async def test_put_then_ack(store: Store) -> None:
    entry_id = await store.outbox.put("c1", "vk", "42", REPLY)
    pending = await store.outbox.pending()
    assert [(e.id, e.customer, e.channel, e.user_id, e.reply) for e in pending] == [
        (entry_id, "c1", "vk", "42", REPLY)
    ]
    assert await store.outbox.ack(entry_id)
    assert not await store.outbox.ack(entry_id)
    assert await store.outbox.pending() == []


async def test_fresh_entries_are_not_claimed(store: Store) -> None:
    await store.outbox.put("c1", "vk", "42", REPLY)
    assert await store.outbox.claim_stale(60_000) == []


async def _lapse(store: Store, entry_id: str) -> None:
    """Age the entry's lease by an hour (no sleeping: a loaded machine cannot let a fresh
    lease lapse between the claims below, as a 200 ms one did)."""
    leased_ms = await store.redis.zscore(store.keys.outbox_lease, entry_id)
    assert leased_ms is not None
    await store.redis.zadd(store.keys.outbox_lease, {entry_id: leased_ms - 3_600_000})


async def test_stale_entry_is_claimed_by_exactly_one_caller(store: Store) -> None:
    entry_id = await store.outbox.put("c1", "max", "7", REPLY)
    await _lapse(store, entry_id)
    claims = await asyncio.gather(*(store.outbox.claim_stale(60_000) for _ in range(8)))
    winners = [c for c in claims if c]
    assert len(winners) == 1
    [entry] = winners[0]
    assert (entry.id, entry.reply, entry.claims) == (entry_id, REPLY, 1)
    assert entry.message_key == entry_id
    # The claim renewed the lease: not claimable again until it goes stale once more.
    assert await store.outbox.claim_stale(60_000) == []
    await _lapse(store, entry_id)
    [again] = await store.outbox.claim_stale(60_000)
    assert again.claims == 2
    await store.outbox.ack(entry_id)
    assert await store.outbox.claim_stale(0) == []


async def test_touch_renews_the_lease_of_a_pending_entry_only(store: Store) -> None:
    entry_id = await store.outbox.put("c1", "vk", "42", REPLY)
    await _lapse(store, entry_id)
    assert await store.outbox.touch(entry_id)
    assert await store.outbox.claim_stale(60_000) == []  # touched just now, not an hour ago
    await _lapse(store, entry_id)
    [entry] = await store.outbox.claim_stale(60_000)
    assert entry.id == entry_id
    await store.outbox.ack(entry_id)
    assert not await store.outbox.touch(entry_id)  # acknowledged: nothing to renew
    assert not await store.outbox.touch("0000000000000-unknown")
    assert await store.redis.zcard(store.keys.outbox_lease) == 0  # touch adds no lease


async def test_drop_customer_removes_only_theirs(store: Store) -> None:
    await store.outbox.put("c1", "vk", "1", REPLY)
    keep = await store.outbox.put("c2", "vk", "2", REPLY)
    assert await store.outbox.drop_customer("c1") == 1
    assert [e.id for e in await store.outbox.pending()] == [keep]


def test_random_id_is_stable_positive_int32() -> None:
    ids = {random_id_for(f"{i:013d}-abcdef") for i in range(1000)}
    assert len(ids) == 1000
    assert all(0 < i <= 2**31 - 1 for i in ids)
    assert random_id_for("x") == random_id_for("x")


async def test_claim_by_id_takes_the_pending_ones_at_once(store: Store) -> None:
    first = await store.outbox.put("c1", "vk", "1", Reply("раз"))
    second = await store.outbox.put("c1", "vk", "1", Reply("два"))
    await store.outbox.ack(second)
    claimed = await store.outbox.claim([first, second, "no-such-entry"])
    assert [(e.id, e.reply.text) for e in claimed] == [(first, "раз")]
    assert await store.outbox.claim([]) == []
    await _lapse(store, first)
    assert [e.id for e in await store.outbox.claim_stale(60_000)] == [first]  # still pending
