"""De-duplication of platform events."""

from __future__ import annotations

import asyncio

from storage.store import Store
from tests.waiting import until_gone


async def test_first_seen_once_within_ttl(store: Store) -> None:
    assert await store.dedupe.first_seen("vk:evt1")
    assert not await store.dedupe.first_seen("vk:evt1")
    assert await store.dedupe.first_seen("vk:evt2")
    ttl = await store.redis.ttl(store.keys.dedupe("vk:evt1"))
    assert 86_000 < ttl <= 86_400


async def test_concurrent_duplicates_pass_exactly_once(store: Store) -> None:
    results = await asyncio.gather(*(store.dedupe.first_seen("max:u9") for _ in range(20)))
    assert sum(results) == 1


async def test_seen_again_after_expiry(store: Store) -> None:
    assert await store.dedupe.first_seen("e", ttl=1)
    await store.redis.pexpire(store.keys.dedupe("e"), 1)
    await until_gone(store.redis, store.keys.dedupe("e"))
    assert await store.dedupe.first_seen("e")
    assert not await store.dedupe.first_seen("e")
