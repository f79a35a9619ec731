"""storage.locks: the lease carries what was read with the lock; ``release_acked`` is the
turn's release with its replies' acknowledgements in one script (outside a cluster)."""

from __future__ import annotations

import pytest

from flows.types import DialogState, Frame, Inbound, Reply, TextEvent
from storage.client import scripts_span_slots
from storage.history import HistoryEntry
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
    await store.inbox.push("c2", Inbound("max", "42", "e2", TextEvent("b")))
    again = await locks.lease("c2")
    rows = await locks.release_acked(again.lock, [], shard)
    assert rows is not None  # an entry waits: the lock stays
    assert await holds(store, again.lock)
    await locks.release(again.lock)
