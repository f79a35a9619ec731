"""storage.save with the refresh marks known (``Marks``): the save reads nothing of the state
(the lock check proves nobody wrote it since the lease read it: every writer holds the lock or
deletes it with the state), and the state's expiry stays right — renewed once per window, and
set on a state that expired during the turn."""

from __future__ import annotations

from collections import Counter

import pytest
from redis.asyncio.cluster import RedisCluster

from bots.held import Held
from flows.types import DialogState, Frame
from storage.codec import text
from storage.errors import LockLost
from storage.locks import Lock
from storage.save import Marks
from storage.state import States
from storage.store import Store

STATE = DialogState(stack=(Frame(f="booking", s="day"),))
DAY = 86_400


def _states(store: Store) -> States:
    return States(store.redis, store.keys, instance=store.instance, state_ttl=30 * DAY)


async def _calls(store: Store) -> Counter[str]:
    stats = await store.redis.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


async def test_a_lease_reads_the_state_s_mark_and_a_save_with_it_reads_nothing(
    store: Store,
) -> None:
    if isinstance(store.redis, RedisCluster):
        pytest.skip("commandstats of a cluster are per node")
    states = _states(store)
    lock = await states.locks.acquire("c1")
    await states.save("c1", STATE, version=0, lock=lock)
    await states.locks.release(lock)
    lease = await states.locks.lease("c1")
    stored = await store.redis.hget(store.keys.state("c1"), "x")
    assert stored is not None
    assert lease.snapshot.mark == text(stored) == states.mark()
    before = await _calls(store)
    marks = Marks(lease.snapshot.mark, states.mark())
    assert await states.save("c1", STATE, version=1, lock=lease.lock, marks=marks) == 2
    spent = await _calls(store) - before
    assert (spent["hmget"], spent["expire"], spent["hset"]) == (0, 0, 1)
    assert await states.load("c1") == (STATE, 2)
    await states.locks.release(lease.lock)


async def test_a_save_with_marks_renews_the_expiry_when_the_window_moved(store: Store) -> None:
    states = _states(store)
    lock = await states.locks.acquire("c1")
    key = store.keys.state("c1")
    await states.save("c1", STATE, version=0, lock=lock, marks=Marks(None, states.mark()))
    assert 30 * DAY - 100 < await store.redis.ttl(key) <= 30 * DAY
    await store.redis.expire(key, 29 * DAY)
    await states.save("c1", STATE, version=1, lock=lock, marks=Marks(states.mark(), states.mark()))
    assert await store.redis.ttl(key) <= 29 * DAY  # the same window: no EXPIRE
    await states.save("c1", STATE, version=2, lock=lock, marks=Marks(f"{DAY}.1", states.mark()))
    assert 30 * DAY - 100 < await store.redis.ttl(key) <= 30 * DAY
    assert text(await store.redis.hget(key, "x")) == states.mark()
    await states.locks.release(lock)


async def test_a_state_that_expired_during_the_turn_is_saved_with_its_expiry(
    store: Store,
) -> None:
    """The lease read the state and its mark; the state expired before the save: the save's
    HSET creates every field, so it writes the mark and runs the EXPIRE (a state without one
    would never expire)."""
    states = _states(store)
    lock = await states.locks.acquire("c1")
    key = store.keys.state("c1")
    await states.save("c1", STATE, version=0, lock=lock)
    mark = states.mark()
    await store.redis.delete(key)  # as its ttl would
    await states.save("c1", STATE, version=1, lock=lock, marks=Marks(mark, mark))
    assert 30 * DAY - 100 < await store.redis.ttl(key) <= 30 * DAY
    assert text(await store.redis.hget(key, "x")) == mark
    await states.locks.release(lock)


async def test_a_state_deleted_under_a_holder_takes_its_lock_too(store: Store) -> None:
    """``States.delete`` (like ``svyaz forget`` and a merge) deletes the lock with the state:
    a holder saving with its marks, which no longer reads the version, finds the lock gone."""
    states = _states(store)
    lock = await states.locks.acquire("c1")
    await states.save("c1", STATE, version=0, lock=lock)
    await states.delete("c1")
    mark = states.mark()
    with pytest.raises(LockLost):
        await states.save("c1", STATE, version=1, lock=lock, marks=Marks(mark, mark))
    assert await store.redis.exists(store.keys.state("c1")) == 0


def test_the_runner_s_marks_follow_its_own_saves() -> None:
    """``Held``: the lease's mark first, then each save's; none for another customer."""
    held = Held(Lock("c1", "t", 30.0), None, mark="1.5")
    first = held.marks("c1", "1.6")
    assert first == Marks("1.5", "1.6")
    held.stored("c1", None, 1, "", renewed=False, marks=first)
    assert held.marks("c1", "1.6") == Marks("1.6", "1.6")
    assert held.marks("c2", "1.6") is None
    held.stored("c2", None, 1, "", renewed=False, marks=Marks("1.9", "1.9"))
    assert held.mark == "1.6"
