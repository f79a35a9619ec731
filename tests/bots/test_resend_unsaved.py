"""A re-send never sends the replies of a turn killed before its save (the turn runs again
from its inbox entry and answers anew). Older versions wrote a Redis Cluster's turn replies to
the outbox just before the save, noted unsaved in the state hash until the save deleted the
note; a kill between the two left noted entries behind, which a re-send still drops
(``States.never_saved``). Turn replies are now kept in the state by the save itself
(``storage.kept``): a kill before it leaves nothing to send."""

from __future__ import annotations

from bots_harness import Harness

from bots.delivery import Delivery
from flows.types import Reply
from storage.outbox_scripts import Put
from storage.scripts import runner
from storage.state import UNSAVED


async def test_a_re_send_drops_the_replies_an_older_version_wrote_before_a_save_that_never_ran(
        harness: Harness) -> None:
    store = harness.store
    replies = [store.outbox.prepare("c1", "vk", "1", Reply(text)) for text in ("раз", "два")]
    put = runner(store.redis, Put)
    for entry in replies:  # as an older version's turn wrote them, then was killed
        await put(Put.of(store.outbox.keys_of(entry.id), *entry))
    await store.redis.hset(store.keys.state("c1"), f"{UNSAVED}p.token",
                           " ".join(entry.id for entry in replies))
    await store.outbox.put("c1", "vk", "1", Reply("три"))  # (another turn's: sent)
    delivery = Delivery(store=store, connectors={"vk": harness.channels["vk"]},
                        metrics=harness.metrics, clock=lambda: 1.0)
    assert await delivery.resend_stale(min_idle_ms=0) == 1
    assert harness.channels["vk"].texts("1") == ["три"]
    assert await store.outbox.pending() == []
