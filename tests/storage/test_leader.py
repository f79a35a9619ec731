"""storage.leader: the scheduler's leader lock — one holder, renewed and released by it only."""

from __future__ import annotations

from storage.keys import POLL_LEADER_TTL_MS
from storage.leader import LeaderLock, PollCursor
from storage.store import Store


async def test_one_holder_renews_and_releases_only_its_own_lock(store: Store) -> None:
    first = LeaderLock(store.redis, store.keys)
    second = LeaderLock(store.redis, store.keys)
    assert await first.take()
    assert not await second.take()
    assert not await second.renew()  # not the holder: no extension
    assert not await second.release()  # nor a release
    assert await first.renew()
    assert 7_000 < await store.redis.pttl(store.keys.sched_leader) <= 8_000
    assert await first.release()
    assert not await first.renew()  # released: renewing does not take it back
    assert await second.take()


async def test_a_lapsed_lock_goes_to_whoever_takes_it(store: Store) -> None:
    first = LeaderLock(store.redis, store.keys, ttl_ms=50)
    second = LeaderLock(store.redis, store.keys)
    assert await first.take()
    await store.redis.delete(store.keys.sched_leader)  # as when the TTL runs out
    assert await second.take()
    assert not await first.renew()
    assert not await first.release()
    assert await store.redis.exists(store.keys.sched_leader) == 1


async def test_each_platform_has_its_own_poller_lock_and_cursor(store: Store) -> None:
    scheduler = LeaderLock(store.redis, store.keys)
    vk, max_ = (LeaderLock.poller(store.redis, store.keys, p) for p in ("vk", "max"))
    assert await scheduler.take()
    assert await vk.take()  # not the scheduler's key, nor MAX's
    assert await max_.take()
    assert not await LeaderLock.poller(store.redis, store.keys, "vk").take()
    assert 0 < await store.redis.pttl(store.keys.poll_leader("vk")) <= POLL_LEADER_TTL_MS
    cursor = PollCursor(store.redis, store.keys, "vk")
    assert await cursor.load() is None
    await cursor.save("1234")
    assert await PollCursor(store.redis, store.keys, "vk").load() == "1234"
    assert await PollCursor(store.redis, store.keys, "max").load() is None
