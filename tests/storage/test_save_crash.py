"""A kill -9 around a turn's save never loses the turn's replies nor sends them for a turn that
was not saved (regression: on Redis Cluster the save wrote the outbox entries after its own
answer, so a process killed between the two left a saved turn — its inbox entry settled —
whose replies were nowhere to re-send; the multi-process drill lost one a run that way)."""

from __future__ import annotations

import pytest

from flows.types import DialogState, Frame, Reply
from storage.state import UNSAVED
from storage.store import Store
from tests.bots.crashes import Crash, crashing

STATE = DialogState(stack=(Frame(f="booking", s="time"),), vars={"day": "2026-12-07"})


async def _notes(store: Store, customer: str) -> list[str]:
    fields = await store.redis.hkeys(store.keys.state(customer))
    return [f for f in (x.decode() if isinstance(x, bytes) else x for x in fields)
            if f.startswith(UNSAVED)]


async def test_the_replies_of_a_saved_turn_outlive_a_kill_right_after_the_save(
        store: Store) -> None:
    lease = await store.states.locks.lease("c1")
    reply = store.outbox.prepare("c1", "vk", "42", Reply("Свободное время: 10:00, 12:30"))
    crashing(store.states, "_run", after=True)  # killed once the save's script has run
    with pytest.raises(Crash):
        await store.states.save("c1", STATE, version=0, lock=lease.lock, outbox=[reply])
    assert await store.states.load("c1") == (STATE, 1)
    # The process that takes the name over finds the reply, and sends it: the turn was saved.
    heir = Store(store.redis, bot=store.keys.bot, instance=store.instance)
    inherited = await heir.outbox.inherit()
    assert [entry.id for entry in inherited] == [reply.id]
    assert await heir.states.never_saved(inherited) == set()
    assert await _notes(store, "c1") == []


async def test_the_replies_of_a_turn_killed_before_its_save_are_not_sent(store: Store) -> None:
    lease = await store.states.locks.lease("c1")
    replies = [store.outbox.prepare("c1", "vk", "42", Reply(text)) for text in ("a", "b")]
    crashing(store.states, "_run")  # killed before the save's script runs
    with pytest.raises(Crash):
        await store.states.save("c1", STATE, version=0, lock=lease.lock, outbox=replies)
    assert await store.states.load("c1") == (None, 0)
    # Whatever was written (a cluster writes the entries first) is dropped by the re-send,
    # the rest of the turn's with it: the turn runs again and answers anew.
    written = await store.outbox.pending()
    assert await store.states.never_saved(written[:1]) == {e.id for e in written}
    assert await store.outbox.pending() == []
    assert await _notes(store, "c1") == []


async def test_a_refused_save_leaves_neither_entries_nor_a_note(store: Store) -> None:
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", STATE, version=0, lock=lock)
        refused = store.outbox.prepare("c1", "vk", "42", Reply("a"))
        with pytest.raises(Exception, match="version"):
            await store.states.save("c1", STATE, version=0, lock=lock, outbox=[refused])
    assert await store.outbox.pending() == []
    assert await _notes(store, "c1") == []
