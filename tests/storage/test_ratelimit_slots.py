"""storage.ratelimit: a platform's request slots in Redis, granted while fewer than the limit
are in flight or freed less than ``per`` ago; the peers counted at most once a second."""

from __future__ import annotations

from storage.ratelimit import RedisSlots
from storage.store import Store


async def test_slots_are_granted_up_to_the_limit_and_free_only_after_per(store: Store) -> None:
    slots = RedisSlots(store.redis, store.keys, platform="vk", member="p1", per=60.0)
    assert [(await slots.take(f"s{n}", limit=2)).granted for n in range(3)] == [
        True, True, False]
    await slots.release("s0")  # answered: still counts for a minute
    refused = await slots.take("s3", limit=2)
    assert not refused.granted
    assert 0 < refused.wait <= 60.0
    key = store.keys.rate_slots("vk")
    freed_at = await store.redis.zscore(key, "s0")
    assert freed_at is not None
    await store.redis.zadd(key, {"s0": freed_at - 61_000})  # a minute later
    assert (await slots.take("s4", limit=2)).granted
    assert set(await store.redis.zrange(key, 0, -1)) == {b"s1", b"s4"}


async def test_a_slot_whose_release_is_lost_frees_when_its_lease_ends(store: Store) -> None:
    slots = RedisSlots(store.redis, store.keys, platform="max", member="p1", hold_ms=60_000)
    assert (await slots.take("s0", limit=1)).granted
    assert not (await slots.take("s1", limit=1)).granted  # in flight: held
    key = store.keys.rate_slots("max")
    leased = await store.redis.zscore(key, "s0")
    assert leased is not None
    await store.redis.zadd(key, {"s0": leased - 61_000})  # its process died a minute ago
    assert (await slots.take("s2", limit=1)).granted


async def test_peers_are_counted_by_their_marks(store: Store) -> None:
    first = RedisSlots(store.redis, store.keys, platform="vk", member="p1")
    second = RedisSlots(store.redis, store.keys, platform="vk", member="p2")
    assert (await first.take("a", limit=10)).peers == 1
    assert (await second.take("b", limit=10)).peers == 2
    assert (await first.take("c", limit=10)).peers == -1  # marked less than a second ago
    assert await store.redis.zcard(store.keys.rate_peers("vk")) == 2
