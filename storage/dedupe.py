"""De-duplication of inbound platform events (VK callback retries, MAX re-deliveries).

One small key per event id with an expiry (``SET NX EX``), so a cluster spreads them and
nothing needs cleaning. This module must not know what an event means.
"""

from __future__ import annotations

from storage.client import RedisClient
from storage.errors import guarded
from storage.keys import DEDUPE_TTL, Keys


class Dedupe:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def first_seen(self, key: str, ttl: int = DEDUPE_TTL) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds, False after."""
        return bool(await self._redis.set(self._keys.dedupe(key), 1, nx=True, ex=ttl))
