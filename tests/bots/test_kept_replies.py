"""A turn's replies kept in its customer's state (``storage.kept``, issue 17) reach the
customer exactly once through a kill -9 between the turn's save and its release, before the
replies to anything written since: re-sent by the next message's lease or by the sweep,
whichever comes first.

A kill is a ``Crash`` raised at the point named (nothing of the dying process runs after it:
its release is killed too, so its lock stays, as a dead process's does); the restarted
process frees the dead one's locks as its start does (``LockBreaker.break_all``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from bots_harness import Harness, Recorder
from crashes import Crash, crashing

from bots.delivery import Delivery, Kept
from bots.kept import resend_kept
from bots.metrics import Metrics
from flows.types import DialogState, Inbound, Reply, StartEvent, TextEvent
from storage.errors import LockTimeout
from storage.kept import gone
from storage.store import Sent
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.held import holds
from tests.max_process import Process, max_process

ASKED = "Приятно познакомиться, Оля! Сколько вам лет?"


async def _cut(harness: Harness, user: str) -> str:
    """The customer's second turn saved (its reply kept), then its process killed before
    the send: the customer, whose lock the restart frees."""
    await harness.send("max", user, StartEvent())
    recorder, store = harness.channels["max"], harness.store
    crashing(recorder, "send")
    crashing(store, "release")  # (the drain's last word: killed too)
    await harness.send("max", user, TextEvent("Оля"))
    del recorder.send, store.release  # the restarted process
    customer = await harness.customer("max", user)
    assert await store.redis.hexists(store.keys.state(customer), "out")
    assert harness.texts("max", user) == ["Как вас зовут?"]
    assert await store.states.breaker.break_all() == [customer]
    return customer


async def _settled(harness: Harness, customer: str) -> None:
    store = harness.store
    assert not await store.redis.hexists(store.keys.state(customer), "out")
    assert customer not in await store.inbox.customers_with_pending()
    assert await store.outbox.pending() == []


async def test_a_cut_turn_s_reply_goes_before_the_next_message_s(harness: Harness) -> None:
    customer = await _cut(harness, "71")
    await harness.send("max", "71", TextEvent("33"))
    assert harness.texts("max", "71") == ["Как вас зовут?", ASKED, "Записал: Оля, 33."]
    said = [(e.direction, e.text, e.note) for e in await harness.store.history.read(customer)]
    assert said[-4:] == [("in", "Оля", ""), ("out", ASKED, "re-sent"), ("in", "33", ""),
                         ("out", "Записал: Оля, 33.", "")]
    await _settled(harness, customer)


async def test_a_cut_turn_s_reply_is_re_sent_once_by_the_sweep(harness: Harness) -> None:
    customer = await _cut(harness, "72")
    assert customer in await harness.store.inbox.customers_with_pending()  # (its inbox: empty)
    await harness.runtime.sweep()
    await harness.runtime.idle()
    await harness.runtime.sweep()  # (a second sweep finds nothing)
    await harness.runtime.idle()
    assert harness.texts("max", "72") == ["Как вас зовут?", ASKED]
    await _settled(harness, customer)
    await harness.send("max", "72", TextEvent("33"))
    assert harness.texts("max", "72")[-1] == "Записал: Оля, 33."


# The real MAX connector against the MAX fake: a post MAX accepted before the kill is read
# back, after its landing time, from the mark the dead process left in the state.

USER = 5552101


KILLS: dict[str, Callable[[Process], None]] = {
    "after the save, before the post": lambda p: crashing(p.connector.client, "send"),
    "after MAX accepted, before the release": lambda p: crashing(p.connector.client, "send",
                                                                  after=True),
}


@pytest.mark.parametrize("point", list(KILLS))
async def test_a_kept_max_reply_reaches_the_customer_once_through_a_kill(
    redis_url: str, bot_prefix: str, max_fake: MaxFake, point: str
) -> None:
    route = f"dialog:{w.chat_of(USER)}:{USER}"
    inbound = Inbound("max", str(USER), "e1", TextEvent("Оля"), reply_to=route)
    async with max_process(redis_url, bot_prefix, max_fake) as dying:
        store = dying.store
        customer = await store.identities.resolve(f"max:{USER}")
        entry_id = await store.inbox.push(customer, inbound)
        lease = await store.states.locks.lease(customer)
        kept = dying.delivery.prepare(customer, inbound, [Reply(ASKED)])
        await store.states.save(customer, DialogState(), version=0, lock=lease.lock,
                                inbox_id=entry_id, replies=kept)
        KILLS[point](dying)
        with pytest.raises(Crash):
            await dying.delivery.reply(customer, inbound, [Reply(ASKED)], sent=[],
                                       kept=Kept(lease.lock, kept))
        marked = await store.redis.hexists(store.keys.state(customer), f"p:{kept[0].id}")
        assert marked == point.startswith("after MAX")  # (the client marks, then posts)
    async with max_process(redis_url, bot_prefix, max_fake) as restarted:
        store = restarted.store
        assert await store.inbox.customers_with_pending() == [customer]  # for the sweep
        await store.states.breaker.break_all()
        heir = await store.states.locks.lease(customer)
        assert heir.replies is not None
        sent: list[Sent] = []
        ids = await resend_kept(restarted.delivery, store, heir.lock, heir.replies, sent)
        assert await store.release_if_idle(heir.lock, sent, gone=gone(ids)) is None
        said = [e.text for e in await store.history.read(customer) if e.direction == "out"]
        assert await store.inbox.customers_with_pending() == []
    assert [str(s.body.get("text")) for s in max_fake.sent] == [ASKED]  # none lost, no double
    assert said == [ASKED]


async def test_a_post_whose_lock_was_lost_does_not_go_out(
    redis_url: str, bot_prefix: str, max_fake: MaxFake,
) -> None:
    """The mark is written only while the lock holds the poster's token: a sender whose lock
    expired and was leased by another process posts nothing (that process re-sends it)."""
    route = f"dialog:{w.chat_of(USER)}:{USER}"
    inbound = Inbound("max", str(USER), "e1", TextEvent("Оля"), reply_to=route)
    async with max_process(redis_url, bot_prefix, max_fake) as slow:
        store = slow.store
        customer = await store.identities.resolve(f"max:{USER}")
        lease = await store.states.locks.lease(customer)
        kept = slow.delivery.prepare(customer, inbound, [Reply(ASKED)])
        await store.states.save(customer, DialogState(), version=0, lock=lease.lock,
                                replies=kept)
        await store.redis.delete(store.keys.lock(customer))  # expired
        heir = await store.states.locks.lease(customer)  # another process's lease
        with pytest.raises(Exception, match="lock lost"):
            await slow.delivery.reply(customer, inbound, [Reply(ASKED)], sent=[],
                                      kept=Kept(lease.lock, kept))
        assert heir.replies is not None
    assert max_fake.sent == []


class _Slow:
    """A channel whose send waits (a rate limiter's queue, a slow platform)."""

    capabilities = Recorder("vk").capabilities

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sent: list[str] = []

    async def send(self, user_id: str, reply: Reply, *, message_key: str,
                   priority: str = "live", since: float | None = None) -> None:
        await asyncio.sleep(self.seconds)
        self.sent.append(reply.text)


async def test_a_long_send_keeps_the_customer_s_lock_so_nobody_else_sends(
        harness: Harness) -> None:
    """A kept reply's send that outlasts the lock's ttl renews the lock (not an outbox
    lease): no other process can lease the customer and re-send it meanwhile."""
    store, slow = harness.store, _Slow(2.5)
    delivery = Delivery(store=store, connectors={"vk": slow},  # type: ignore[dict-item]
                        metrics=Metrics(), renew_every=0.05)
    inbound = Inbound("vk", "1", "e1", TextEvent("Оля"))
    lock = await store.states.locks.acquire("c1", ttl=1.0)
    kept = delivery.prepare("c1", inbound, [Reply(ASKED)])
    await store.states.save("c1", DialogState(), version=0, lock=lock, replies=kept)
    sending = asyncio.create_task(delivery.reply("c1", inbound, [Reply(ASKED)], sent=[],
                                                 kept=Kept(lock, kept)))
    with pytest.raises(LockTimeout):  # twice the lock's ttl, while the send waits
        await store.states.locks.lease("c1", wait=2.0)
    assert await sending
    assert await holds(store, lock)
    assert slow.sent == [ASKED]


async def test_a_merge_keeps_the_merged_away_customer_s_cut_turn_replies(
        harness: Harness) -> None:
    """A customer merged away (account linking) while a cut turn's replies wait in its state:
    they move to the outbox (same ids, for its sweep), now the kept customer's, instead of
    going with the merged-away customer's state."""
    other = await _cut(harness, "73")
    await harness.send("max", "74", StartEvent())
    keep = await harness.customer("max", "74")
    await harness.store.identities.merge(keep, other)
    moved = [(e.customer, e.user_id, e.reply.text) for e in await harness.store.outbox.pending()]
    assert moved == [(keep, "73", ASKED)]
