"""A kill -9 around a turn's save never loses the turn's replies nor sends them for a turn that
was not saved: the save keeps them in the state in its own step (``storage.kept``), so either
both are stored or neither (regression of the old layout: on Redis Cluster the save wrote
outbox entries after its own answer, so a process killed between the two left a saved turn
whose replies were nowhere to re-send; the multi-process drill lost one a run that way)."""

from __future__ import annotations

import pytest

from flows.types import DialogState, Frame, Reply
from storage.kept import decode
from storage.store import Store
from tests.bots.crashes import Crash, crashing

STATE = DialogState(stack=(Frame(f="booking", s="time"),), vars={"day": "2026-12-07"})


async def test_the_replies_of_a_saved_turn_outlive_a_kill_right_after_the_save(
        store: Store) -> None:
    lease = await store.states.locks.lease("c1")
    reply = store.outbox.prepare("c1", "vk", "42", Reply("Свободное время: 10:00, 12:30"))
    crashing(store.states, "_save", after=True)  # killed once the save's script has run
    with pytest.raises(Crash):
        await store.states.save("c1", STATE, version=0, lock=lease.lock, replies=[reply])
    await store.states.breaker.break_all()  # (the dead process's lock)
    # The next lease finds the reply with the state, and sends it: the turn was saved.
    heir = await store.states.locks.lease("c1")
    assert await store.states.load("c1", snapshot=heir.snapshot) == (STATE, 1)
    assert heir.replies is not None
    [kept] = decode(heir.replies)
    assert (kept.id, kept.customer, kept.user_id, kept.reply) == (
        reply.id, "c1", "42", Reply("Свободное время: 10:00, 12:30"))


async def test_the_replies_of_a_turn_killed_before_its_save_are_not_sent(store: Store) -> None:
    lease = await store.states.locks.lease("c1")
    replies = [store.outbox.prepare("c1", "vk", "42", Reply(text)) for text in ("a", "b")]
    crashing(store.states, "_save")  # killed before the save's script runs
    with pytest.raises(Crash):
        await store.states.save("c1", STATE, version=0, lock=lease.lock, replies=replies)
    await store.states.breaker.break_all()
    heir = await store.states.locks.lease("c1")
    assert await store.states.load("c1", snapshot=heir.snapshot) == (None, 0)
    assert heir.replies is None  # the turn runs again and answers anew
    assert await store.outbox.pending() == []


async def test_a_refused_save_keeps_no_replies(store: Store) -> None:
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", STATE, version=0, lock=lock)
        refused = store.outbox.prepare("c1", "vk", "42", Reply("a"))
        with pytest.raises(Exception, match="version"):
            await store.states.save("c1", STATE, version=0, lock=lock, replies=[refused])
    assert not await store.redis.hexists(store.keys.state("c1"), "out")
    assert await store.outbox.pending() == []
