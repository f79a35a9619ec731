"""A re-send never sends the replies of a turn killed before its save (the turn runs again
from its inbox entry and answers anew): on Redis Cluster a turn's outbox entries are written
just before its save, noted unsaved in the state hash until the save deletes the note
(``storage.state.States._before``), so a kill between the two leaves noted entries behind."""

from __future__ import annotations

import pytest
from bots_harness import Harness
from crashes import Crash, crashing

from bots.delivery import Delivery
from flows.types import DialogState, Reply


async def test_a_re_send_drops_the_replies_of_a_turn_killed_before_its_save(
        harness: Harness) -> None:
    store = harness.store
    store.states._joint = False  # a cluster's path, on one Redis: the entries apart, first
    lock = await store.states.locks.acquire("c1")
    replies = [store.outbox.prepare("c1", "vk", "1", Reply(text)) for text in ("раз", "два")]
    crashing(store.states, "_run")  # kill -9 before the save's script runs
    with pytest.raises(Crash):
        await store.states.save("c1", DialogState(), version=0, lock=lock, outbox=replies)
    assert len(await store.outbox.pending()) == 2  # written, and noted unsaved
    await store.outbox.put("c1", "vk", "1", Reply("три"))  # (another turn's: sent)
    delivery = Delivery(store=store, connectors={"vk": harness.channels["vk"]},
                        metrics=harness.metrics, clock=lambda: 1.0)
    assert await delivery.resend_stale(min_idle_ms=0) == 1
    assert harness.channels["vk"].texts("1") == ["три"]
    assert await store.outbox.pending() == []
