"""Index of a customer's scheduled reminder keys.

The jobs themselves live in APScheduler's own ``RedisJobStore`` (the scheduler owns them); this
set only lets ``merge`` move a customer's reminders and ``forget`` find them to cancel.
This module must not schedule anything.
"""

from __future__ import annotations

import builtins

from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keys import Keys


class Reminders:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def add(self, customer: str, key: str) -> None:
        await self._redis.sadd(self._keys.reminders(customer), key)

    @guarded
    async def remove(self, customer: str, key: str) -> bool:
        return bool(await self._redis.srem(self._keys.reminders(customer), key))

    @guarded
    async def list(self, customer: str) -> builtins.list[str]:
        return sorted(text(m) for m in await self._redis.smembers(self._keys.reminders(customer)))

    @guarded
    async def move(self, source: str, target: str) -> builtins.list[str]:
        """Move every reminder key of ``source`` to ``target`` (merge); the keys moved."""
        keys = await self.list(source)
        if keys:
            await self._redis.sadd(self._keys.reminders(target), *keys)
        await self._redis.delete(self._keys.reminders(source))
        return keys

    @guarded
    async def clear(self, customer: str) -> builtins.list[str]:
        keys = await self.list(customer)
        await self._redis.delete(self._keys.reminders(customer))
        return keys
