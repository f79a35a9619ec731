"""Whether a customer lock is still held by its token, read straight from Redis (tests only;
the product never asks: a holder learns it lost the lock when a save or release refuses)."""

from __future__ import annotations

from storage.codec import text
from storage.locks import Lock
from storage.store import Store


async def holds(store: Store, held: Lock) -> bool:
    current = await store.redis.get(store.keys.lock(held.customer))
    return current is not None and text(current) == held.token
