"""Versioned state with a per-customer lock: a lost lock never overwrites newer state."""

from __future__ import annotations

import asyncio

import pytest

from flows.types import DialogState, Frame, Inbound, Reply, TextEvent
from storage.errors import LockLost, LockTimeout, VersionConflict
from storage.history import HistoryEntry
from storage.kept import decode, gone
from storage.store import Sent, Store
from tests.held import holds
from tests.waiting import until_gone

STATE = DialogState(stack=(Frame(f="booking", s="day"),), vars={"service": "Стрижка", "n": 2})


async def test_load_of_a_new_customer_is_empty(store: Store) -> None:
    assert await store.states.load("nobody") == (None, 0)


async def test_save_then_load_round_trips_and_counts_versions(store: Store) -> None:
    async with store.states.lock("c1") as lock:
        assert await store.states.save("c1", STATE, version=0, lock=lock) == 1
        loaded, version = await store.states.load("c1")
        assert (loaded, version) == (STATE, 1)
        changed = STATE.model_copy(update={"consent": True})
        assert await store.states.save("c1", changed, version=1, lock=lock) == 2
    assert await store.states.load("c1") == (changed, 2)
    ttl = await store.redis.ttl(store.keys.state("c1"))
    assert 0 < ttl <= store.states.state_ttl


async def test_stale_version_is_refused(store: Store) -> None:
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", STATE, version=0, lock=lock)
        with pytest.raises(VersionConflict):
            await store.states.save("c1", DialogState(), version=0, lock=lock)
    assert await store.states.load("c1") == (STATE, 1)


async def test_expired_lock_cannot_save_over_the_new_holder(store: Store) -> None:
    old = await store.states.locks.acquire("c1", ttl=0.05)
    await until_gone(store.redis, store.keys.lock("c1"))  # expired
    async with store.states.lock("c1", wait=1) as new:
        await store.states.save("c1", STATE, version=0, lock=new)
        with pytest.raises(LockLost):
            await store.states.save("c1", DialogState(), version=1, lock=old)
        assert not await store.states.locks.release(old)  # the old token must not free the new lock
        assert await holds(store, new)
    assert await store.states.load("c1") == (STATE, 1)


async def test_lock_excludes_and_times_out(store: Store) -> None:
    async with store.states.lock("c1"):
        with pytest.raises(LockTimeout):
            await store.states.locks.acquire("c1", wait=0.1)
    async with store.states.lock("c1", wait=0.1):
        pass


async def test_an_orphaned_lock_is_taken_over_after_later_failed_calls(store: Store) -> None:
    """A turn's release went unanswered (Redis away), then the platform's retries of the next
    message failed too, each leaving a token that took nothing: the real holder still counts."""
    held = await store.states.locks.acquire("c1", ttl=30)
    store.states.locks.orphans.add("c1", held.token)
    for i in range(40):  # ~12 s of retries every 0.3 s
        store.states.locks.orphans.add("c1", f"{i:032x}")
    taken = await store.states.locks.acquire("c1", wait=0.2)
    assert await holds(store, taken)
    assert not await holds(store, held)


async def test_a_token_that_holds_nothing_takes_nothing_over(store: Store) -> None:
    await store.states.locks.acquire("c1", ttl=30)
    store.states.locks.orphans.add("c1", "f" * 32)
    with pytest.raises(LockTimeout):
        await store.states.locks.acquire("c1", wait=0.1)


async def test_extend_keeps_the_lock_alive(store: Store) -> None:
    lock = await store.states.locks.acquire("c1", ttl=1.0)  # (a loaded machine: not expired yet)
    assert await store.states.locks.extend(lock, ttl=5)
    # Until the first ttl has surely passed on Redis's clock: a lock taken after it, with the
    # same ttl, has expired.
    witness = await store.states.locks.acquire("c2", ttl=1.0)
    await until_gone(store.redis, store.keys.lock(witness.customer))
    assert await holds(store, lock)
    await store.states.locks.release(lock)
    assert not await store.states.locks.extend(lock)


async def test_lock_of_another_customer_is_refused(store: Store) -> None:
    async with store.states.lock("c1") as lock:
        with pytest.raises(LockLost):
            await store.states.save("c2", STATE, version=0, lock=lock)


async def test_save_marks_the_inbox_entry_done_in_the_same_step(store: Store) -> None:
    inbound = Inbound(channel="web", user_id="s", event_id="e", event=TextEvent("привет"))
    entry = await store.inbox.push("c1", inbound)
    other = await store.inbox.push("c1", inbound)
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", STATE, version=0, lock=lock, inbox_id=entry)
        assert [i for i, _ in await store.inbox.pending("c1")] == [other]
        assert await store.inbox.customers_with_pending() == ["c1"]
        await store.states.save("c1", STATE, version=1, lock=lock, inbox_id=other)
    assert await store.inbox.pending("c1") == []
    assert await store.inbox.customers_with_pending() == []
    assert await store.redis.xlen(store.keys.inbox("c1")) == 0


async def test_refused_save_leaves_the_inbox_entry_pending(store: Store) -> None:
    inbound = Inbound(channel="web", user_id="s", event_id="e", event=TextEvent("a"))
    entry = await store.inbox.push("c1", inbound)
    async with store.states.lock("c1") as lock:
        with pytest.raises(VersionConflict):
            await store.states.save("c1", STATE, version=3, lock=lock, inbox_id=entry)
    assert [i for i, _ in await store.inbox.pending("c1")] == [entry]


async def test_save_keeps_the_turns_replies_only_with_the_state(store: Store) -> None:
    """The replies go into the state hash with the state (``storage.kept``), never into the
    outbox; a refused save keeps nothing; the next lease reads them, and the release that
    proves the lock its holder's deletes them."""
    reply = Reply("Записал.")
    first = store.outbox.prepare("c1", "max", "7", reply)
    refused = store.outbox.prepare("c1", "max", "7", reply)
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", STATE, version=0, lock=lock, replies=[first])
        with pytest.raises(VersionConflict):
            await store.states.save("c1", STATE, version=0, lock=lock, replies=[refused])
    assert await store.outbox.pending() == []
    lease = await store.states.locks.lease("c1")  # (the block released without deleting)
    assert lease.replies is not None
    assert [(e.id, e.customer, e.reply) for e in decode(lease.replies)] == [
        (first.id, "c1", reply)]
    assert await store.states.locks.release_acked(lease.lock, [], gone=gone([first.id])) is None
    assert not await store.redis.hexists(store.keys.state("c1"), "out")


async def test_break_all_frees_every_lock_and_nothing_else(store: Store) -> None:
    """At start on the embedded Redis the dead process's locks go, a batch per round trip."""
    held = [f"c{n}" for n in range(1_234)]  # more than one batch of deletions
    for n in range(0, len(held), 20):
        await asyncio.gather(*(store.states.locks.acquire(c) for c in held[n:n + 20]))
    async with store.states.lock("other") as lock:
        await store.states.save("other", STATE, version=0, lock=lock)
    assert sorted(await store.states.breaker.break_all()) == sorted(held)
    assert await store.states.breaker.break_all() == []
    assert await store.states.load("other") == (STATE, 1)
    for customer in (held[0], held[-1]):  # free at once, no waiting for an expiry
        await store.states.locks.release(await store.states.locks.acquire(customer, wait=0.1))


async def test_a_turns_effects_stay_with_its_state_until_the_release_forgets_them(
    store: Store,
) -> None:
    """What a turn saved to run (a reminder to schedule) survives a process that dies before
    running it: the next holder of the lock reads it with the lock, once."""
    lock = await store.states.locks.acquire("c1")
    await store.states.save("c1", STATE, version=0, lock=lock, effects='{"fx": 1}')
    await store.states.locks.release(lock)  # a turn cut short: nobody forgot them
    lease = await store.states.locks.lease("c1")
    assert lease.effects == '{"fx": 1}'
    again = lease.lock
    await store.states.save("c1", STATE, version=1, lock=again)  # None: left as stored
    assert await store.states.locks.release_if_idle(again) is None  # the turns ran: forgotten
    lease = await store.states.locks.lease("c1")
    assert lease.effects is None
    third = lease.lock
    await store.states.save("c1", STATE, version=2, lock=third, effects='{"fx": 2}')
    await store.states.save("c1", STATE, version=3, lock=third, effects="")  # a turn without
    await store.states.locks.release(third)
    assert (await store.states.locks.lease("c1")).effects is None
    assert await store.states.load("c1") == (STATE, 4)


async def test_break_mine_frees_only_the_locks_named_after_this_process(store: Store) -> None:
    """(On every backend, the cluster too: the deletions go by key.)"""
    for customer in ("m1", "m2", "m3"):
        await store.states.locks.acquire(customer)
    other = Store(store.redis, bot=store.keys.bot, instance="0123456789ab")
    await other.states.locks.acquire("o1")
    assert sorted(await store.states.breaker.break_mine()) == ["m1", "m2", "m3"]
    assert await store.states.breaker.break_mine() == []
    assert await store.states.breaker.break_all() == ["o1"]


async def test_a_failed_turn_s_sent_replies_are_not_kept_for_a_re_send(store: Store) -> None:
    """A turn that delivered its first reply, then failed (Redis or the lock lost on the
    second, a stop): its release acknowledges the first (``Store.release``), so the next
    lease re-sends the second alone — the first would come twice on a channel without an
    idempotency key (the web chat, e-mail), and twice in the history."""
    first, second = (store.outbox.prepare("c1", "web", "s", Reply(t)) for t in ("А", "Б"))
    lock = await store.states.locks.acquire("c1")
    await store.states.save("c1", STATE, version=0, lock=lock, replies=[first, second])
    said = HistoryEntry(ts=1.0, channel="web", direction="out", text="А")
    await store.release(lock, [Sent(first.id, "c1", said, kept=True)])
    lease = await store.states.locks.lease("c1")
    assert lease.replies is not None
    assert [e.id for e in decode(lease.replies)] == [second.id]


async def test_an_ack_of_some_kept_replies_leaves_the_others_as_they_were(store: Store) -> None:
    """``AckKept`` cuts the acknowledged entries out of ``out``'s text (no re-encoding): the
    rest decode as saved, quotes and brackets in their texts too; the last ack deletes it."""
    texts = ('Он сказал: ["да",{"нет"}]', "Б", 'В "кавычках"')
    replies = [store.outbox.prepare("c1", "web", "s", Reply(t)) for t in texts]
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", STATE, version=0, lock=lock, replies=replies)
        await store.kept.ack("c1", [replies[1].id])
        out = await store.redis.hget(store.keys.state("c1"), "out")
        assert [(e.id, e.reply.text) for e in decode(out)] == [
            (replies[0].id, texts[0]), (replies[2].id, texts[2])]
        await store.kept.ack("c1", [replies[0].id, replies[2].id])
        assert not await store.redis.hexists(store.keys.state("c1"), "out")
