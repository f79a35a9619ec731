"""storage.locks: the lease carries what was read with the lock; ``release_acked`` is the
turn's release with its replies recorded and the kept ones deleted, in one script."""

from __future__ import annotations

from flows.types import DialogState, Frame, Inbound, Reply, TextEvent
from storage.history import HistoryEntry
from storage.kept import gone
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


async def test_release_acked_records_deletes_the_kept_replies_and_releases(
        store: Store) -> None:
    """One script in the customer's slot (on a cluster too): the sent replies into the
    history, ``out`` and their post marks gone, the lock released; with an entry pushed
    during the hold the lock stays, and the replies' fields go all the same."""
    locks = store.states.locks
    lease = await locks.lease("c2")
    reply = Reply("Во сколько?")
    entry = store.outbox.prepare("c2", "max", "42", reply)
    await store.states.save("c2", STATE, version=0, lock=lease.lock, replies=[entry])
    await store.redis.hset(store.keys.state("c2"), f"p:{entry.id}", 1)  # (a post's mark)
    xadd = store.history.script_args(HistoryEntry(2.0, "max", "out", reply.text))[1:]
    assert await locks.release_acked(lease.lock, [xadd], effects=False,
                                     gone=gone([entry.id])) is None  # released
    assert not await holds(store, lease.lock)
    fields = {f.decode() for f in await store.redis.hkeys(store.keys.state("c2"))}
    assert not fields & {"out", f"p:{entry.id}"}
    assert [(e.direction, e.text) for e in await store.history.read("c2")] == [
        ("out", "Во сколько?")]
    again = await locks.lease("c2")
    await store.states.save("c2", STATE, version=1, lock=again.lock, replies=[entry])
    await store.inbox.push("c2", Inbound("max", "42", "e2", TextEvent("b")))
    rows = await locks.release_acked(again.lock, [], gone=gone([entry.id]))
    assert rows is not None  # an entry pushed during the hold waits: the lock stays
    assert await holds(store, again.lock)
    assert not await store.redis.hexists(store.keys.state("c2"), "out")
    await locks.release(again.lock)


async def test_a_release_that_finds_the_lock_not_its_own_keeps_the_replies(
        store: Store) -> None:
    """The lock's new holder read the kept replies and re-sends them: the old holder's
    release leaves them (and that holder's lock) alone."""
    locks = store.states.locks
    lease = await locks.lease("c3")
    entry = store.outbox.prepare("c3", "vk", "42", Reply("a"))
    await store.states.save("c3", STATE, version=0, lock=lease.lock, replies=[entry])
    await store.redis.delete(store.keys.lock("c3"))  # expired
    heir = await locks.lease("c3")
    assert heir.replies is not None
    assert await locks.release_acked(lease.lock, [], gone=gone([entry.id])) == []
    assert await store.redis.hexists(store.keys.state("c3"), "out")
    assert await holds(store, heir.lock)
    await locks.release(heir.lock)
