"""storage.locks: the lease carries what was read with the lock; ``release_acked`` is the
turn's release with its replies' acknowledgements in one script (outside a cluster)."""

from __future__ import annotations

import time

import pytest

from flows.types import DialogState, Frame, Inbound, Reply, TextEvent
from storage.client import scripts_span_slots
from storage.history import HistoryEntry
from storage.outbox import maybe_claimed
from storage.store import Store
from tests.held import holds

STATE = DialogState(stack=(Frame(f="booking", s="day"),))


async def test_a_lease_carries_the_state_the_inbox_and_the_left_effects(store: Store) -> None:
    locks = store.states.locks
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", STATE, version=0, lock=lock, effects="fx")
    await store.inbox.push("c1", Inbound("max", "42", "e1", TextEvent("a")))
    lease = await locks.lease("c1")
    assert await store.states.load("c1", snapshot=lease.snapshot) == (STATE, 1)
    assert [i.event for _, i in await store.inbox.decode("c1", lease.rows)] == [TextEvent("a")]
    assert lease.effects == "fx"
    assert await holds(store, lease.lock)
    await locks.release(lease.lock)


async def test_release_acked_acknowledges_records_and_releases(store: Store) -> None:
    if not scripts_span_slots(store.redis):
        pytest.skip("one script over the customer's slot and the outbox's: not on a cluster")
    locks = store.states.locks
    lease = await locks.lease("c2")
    reply = Reply("Во сколько?")
    entry = await store.outbox.put("c2", "max", "42", reply)
    xadd = store.history.script_args(HistoryEntry(2.0, "max", "out", reply.text))[1:]
    shard = store.outbox.keys_of(entry)
    assert await locks.release_acked(lease.lock, [(entry, xadd)], shard) is None  # released
    assert not await holds(store, lease.lock)
    assert await store.outbox.pending() == []
    assert [(e.direction, e.text) for e in await store.history.read("c2")] == [
        ("out", "Во сколько?")]
    again = await locks.lease("c2")
    await store.inbox.push("c2", Inbound("max", "42", "e2", TextEvent("b")))
    rows = await locks.release_acked(again.lock, [], shard)
    assert rows is not None  # an entry pushed during the hold waits: the lock stays
    assert await holds(store, again.lock)
    await locks.release(again.lock)


async def test_release_acked_deletes_a_claim_count_only_when_a_claim_was_possible(
    store: Store,
) -> None:
    """A reply acknowledged a moment after its turn wrote it cannot have been claimed by a
    re-send (claims take entries idle for a minute): no claim count to delete. An older one
    may have been: its count goes with it."""
    if not scripts_span_slots(store.redis):
        pytest.skip("one script acknowledges with the release outside a cluster only")
    now = time.time()
    fresh = f"{int(now * 1000):013d}-p-aa-o1"
    old = f"{int((now - 31) * 1000):013d}-p-bb-o1"
    assert not maybe_claimed([fresh], now)
    assert maybe_claimed([fresh, old], now)
    assert maybe_claimed(["no-time-o1"], now)
    shard = store.keys.outbox(1)
    locks = store.states.locks
    for entry, claimed in ((fresh, False), (old, True)):
        await store.redis.hset(shard.tries, entry, 1)  # as a claim would have counted it
        lease = await locks.lease("c1")
        assert await locks.release_acked(lease.lock, [(entry, ["*", "t", "x"])], shard,
                                         claimed=claimed) is None
        assert await store.redis.hexists(shard.tries, entry) is not claimed
