"""storage.lock_scripts: a push made while a customer's lock is held marks the lock, so the
holder's release reads the inbox only then (issue 17: the steady path's release is one GETDEL,
no XRANGE). Every call that compares the lock with its holder's token accepts the marked value.

Who holds a lock, and how it is marked, is read from Redis itself (``Keys.lock``)."""

from __future__ import annotations

from collections import Counter

import pytest
from redis.asyncio.cluster import RedisCluster

from flows.types import DialogState, Frame, Inbound, TextEvent
from storage.codec import text
from storage.locks import Lock
from storage.store import Store

STATE = DialogState(stack=(Frame(f="booking", s="day"),))


def _inbound(event_id: str, said: str) -> Inbound:
    return Inbound("max", "42", event_id, TextEvent(said))


async def _value(store: Store, customer: str) -> str | None:
    found = await store.redis.get(store.keys.lock(customer))
    return None if found is None else text(found)


async def _calls(store: Store) -> Counter[str]:
    stats = await store.redis.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


async def test_every_push_during_a_hold_marks_the_lock_and_the_holder_still_holds_it(
    store: Store,
) -> None:
    """The accept that finds the lock taken, a plain accept and ``Inbox.push`` (reminders,
    merges) each append a mark; the save, the renewal and the release still know the lock as
    their holder's (``holds``)."""
    arrival = await store.intake.take("max:a", _inbound("a", "раз"))
    assert arrival is not None
    lease = arrival.lease
    assert lease is not None
    customer, token = arrival.customer, lease.lock.token
    assert await _value(store, customer) == token  # taken: not marked
    await store.intake.take("max:b", _inbound("b", "два"))
    await store.intake.accept("max:c", _inbound("c", "три"))
    await store.inbox.push(customer, _inbound("d", "четыре"))
    assert await _value(store, customer) == token + "+++"
    locks = store.states.locks
    assert await locks.extend(lease.lock)
    version = await store.states.save(customer, STATE, version=0, lock=lease.lock)
    assert version == 1
    assert await _value(store, customer) == token + "+++"  # the marks stay for the release
    assert await locks.release(lease.lock)
    assert await _value(store, customer) is None


async def test_a_release_with_nothing_pushed_reads_no_inbox_and_a_marked_one_reads_it(
    store: Store,
) -> None:
    """The steady path: the token alone, one GETDEL and no XRANGE. A mark: the inbox is read,
    the lock put back unmarked while rows wait, and released once they are done."""
    if isinstance(store.redis, RedisCluster):
        pytest.skip("commandstats of a cluster are per node")
    arrival = await store.intake.take("max:a", _inbound("a", "раз"))
    assert arrival is not None
    assert arrival.lease is not None
    customer, lock = arrival.customer, arrival.lease.lock
    first = arrival.lease.rows[0][0]
    await store.inbox.done(customer, first)
    locks = store.states.locks
    before = await _calls(store)
    assert await locks.release_if_idle(lock) is None
    spent = await _calls(store) - before
    assert (spent["getdel"], spent["xrange"]) == (1, 0)
    assert await _value(store, customer) is None

    again = await store.intake.take("max:b", _inbound("b", "два"))
    assert again is not None
    assert again.lease is not None
    lock = again.lease.lock
    pushed = await store.intake.accept("max:c", _inbound("c", "три"))
    assert pushed == customer
    rows = await locks.release_if_idle(lock)
    assert rows is not None
    assert len(rows) == 2  # the lease's own entry (not done here) and the one pushed since
    assert await _value(store, customer) == lock.token  # kept, unmarked
    for entry_id, _ in rows:
        await store.inbox.done(customer, entry_id)
    assert await locks.release_if_idle(lock) is None
    assert await _value(store, customer) is None


async def test_a_push_without_a_lock_creates_none(store: Store) -> None:
    """A mark is appended to a held lock only: APPEND would create a lock that never
    expires and that nobody holds."""
    customer = await store.intake.accept("max:a", _inbound("a", "раз"))
    assert customer is not None
    await store.inbox.push(customer, _inbound("b", "два"))
    assert await _value(store, customer) is None
    lease = await store.states.locks.lease(customer, wait=0.5)
    assert len(lease.rows) == 2
    await store.states.locks.release(lease.lock)


async def test_a_marked_lock_is_still_its_holder_s_for_a_takeover(store: Store) -> None:
    """An orphaned token (an answer that never came) takes over its lock marked or not, and
    a process that takes over a dead one's name breaks its marked locks at start."""
    locks = store.states.locks
    lost = await locks.acquire("c1")
    await store.inbox.push("c1", _inbound("a", "раз"))
    assert await _value(store, "c1") == lost.token + "+"
    locks.orphans.add("c1", lost.token)
    lease = await locks.lease("c1", wait=0.05)
    assert await _value(store, "c1") == lease.lock.token != lost.token
    assert len(lease.rows) == 1
    await store.inbox.push("c1", _inbound("b", "два"))
    assert await store.states.breaker.break_mine() == ["c1"]
    assert await _value(store, "c1") is None


async def test_a_marked_lock_that_is_not_ours_is_left_alone(store: Store) -> None:
    """A token that is a prefix of the holder's is not the holder's, marked or not."""
    locks = store.states.locks
    held = await locks.acquire("c1")
    await store.inbox.push("c1", _inbound("a", "раз"))
    prefix = Lock("c1", held.token[:-1], 30.0)
    assert not await locks.release(prefix)
    assert await locks.release_if_idle(prefix) == []
    assert await _value(store, "c1") == held.token + "+"
    assert await locks.release(held)
