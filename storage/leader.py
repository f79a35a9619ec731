"""The reminder scheduler's leader lock: one key per bot, held by a random token per process.

This module owns the leader key's writes: take it (``SET NX PX``), renew it while this
process still holds it (compare-and-expire) and release it (compare-and-delete), each one
round trip with Redis errors mapped by ``guarded``; the two scripts are ``storage.scripts``'
shared ``CompareAndExpire`` and ``CompareAndDelete``. It must not decide when to lead or what
a leader does (``bots.scheduler`` does), nor build key names (``storage.keys`` does).
"""

from __future__ import annotations

import secrets

from storage.client import RedisClient
from storage.errors import guarded
from storage.keys import SCHED_LEADER_TTL_MS, Keys
from storage.scripts import CompareAndDelete, CompareAndExpire, runner


class LeaderLock:
    """One process's hold on the bot's scheduler leader key (``Keys.sched_leader``)."""

    def __init__(self, redis: RedisClient, keys: Keys, *,
                 ttl_ms: int = SCHED_LEADER_TTL_MS) -> None:
        self._redis = redis
        self._key = keys.sched_leader
        self._token = secrets.token_hex(16)
        self._ttl_ms = ttl_ms
        self._expire = runner(redis, CompareAndExpire)
        self._delete = runner(redis, CompareAndDelete)

    @guarded
    async def take(self) -> bool:
        """Take the lock if nobody holds it."""
        return bool(await self._redis.set(self._key, self._token, nx=True, px=self._ttl_ms))

    @guarded
    async def renew(self) -> bool:
        """Extend the lock; False when this process no longer holds it."""
        return bool(await self._expire(CompareAndExpire(self._key, self._token, self._ttl_ms)))

    @guarded
    async def release(self) -> bool:
        """Give the lock up if this process still holds it."""
        return bool(await self._delete(CompareAndDelete(self._key, self._token)))
