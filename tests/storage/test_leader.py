"""storage.leader: the scheduler's leader lock — one holder, renewed and released by it only."""

from __future__ import annotations

from bots.polling import PollLeadership
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
    assert await first.take()  # its own: kept, not refused
    assert not await second.take()
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


async def test_a_poller_that_stepped_down_on_a_redis_error_leads_again_at_once(
        store: Store) -> None:
    """A renewal that fails on a Redis error makes the leader stop polling (it cannot know
    whether its lock lapsed). When the lock is in fact still its own, its next try (a second
    later) polls again, instead of nobody polling until the lock's ttl runs out — seen in CI:
    an owner's reply in VK never read, 10 s after a slow Redis moment."""
    polled = _Polled()
    election = PollLeadership(polled, store, "vk")
    other = PollLeadership(_Polled(), store, "vk")
    await election._once()
    assert election.leader
    assert polled.calls == ["start"]
    await election._step_down()  # what run() does on StorageError
    assert polled.calls == ["start", "stop"]
    await other._once()
    assert not other.leader  # the lock is still the first process's: nobody steals it
    await election._once()
    assert election.leader
    assert polled.calls == ["start", "stop", "start"]
    await election._step_down()
    await election._lock.release()
    await other._once()
    assert other.leader


class _Polled:
    """A polling connector that records what the election asked of it."""

    polls = True
    elected = True

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def start_polling(self, cursor: object = None) -> None:
        self.calls.append("start")

    async def stop_polling(self) -> None:
        self.calls.append("stop")
