"""storage.ticks: a reminder tick (key + due time) is claimed once; a release frees it."""

from __future__ import annotations

import asyncio

from storage.keys import REMINDER_CLAIM_TTL
from storage.store import Store
from storage.ticks import Ticks


async def test_a_tick_is_claimed_once_until_released(store: Store) -> None:
    ticks = Ticks(store.redis, store.keys)
    due = "2026-12-01T10:00:00+03:00"
    claims = await asyncio.gather(*(ticks.claim("c1", "visit", due) for _ in range(10)))
    assert sum(claims) == 1
    ttl = await store.redis.ttl(store.keys.reminder_claim("c1", "visit", due))
    assert REMINDER_CLAIM_TTL - 60 < ttl <= REMINDER_CLAIM_TTL
    assert await ticks.claim("c1", "visit", "2026-12-02T10:00:00+03:00")  # another tick
    assert await ticks.claim("c2", "visit", due)  # another customer
    await ticks.release("c1", "visit", due)
    assert await ticks.claim("c1", "visit", due)
