"""Leader locks: one key per role (the reminder scheduler, each platform's poller), held by a
random token per process; and the polling cursor a leader leaves to its successor.

This module owns those keys' writes: take a lock (``SET NX PX``), renew it while this process
still holds it (compare-and-expire) and release it (compare-and-delete), each one round trip
with Redis errors mapped by ``guarded``; the two scripts are ``storage.scripts``' shared
``CompareAndExpire`` and ``CompareAndDelete``. ``PollCursor`` reads and writes where polling
stands (``connectors.cursor.PollCursor``). It must not decide when to lead or what a leader
does (``bots.scheduler``, ``bots.polling`` do), nor build key names (``storage.keys`` does).
"""

from __future__ import annotations

import secrets

from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keys import POLL_CURSOR_TTL, POLL_LEADER_TTL_MS, SCHED_LEADER_TTL_MS, Keys
from storage.scripts import CompareAndDelete, CompareAndExpire, runner


class LeaderLock:
    """One process's hold on a leader key: ``Keys.sched_leader`` unless ``key`` is given."""

    def __init__(self, redis: RedisClient, keys: Keys, *,
                 ttl_ms: int = SCHED_LEADER_TTL_MS, key: str | None = None) -> None:
        self._redis = redis
        self._key = key or keys.sched_leader
        self._token = secrets.token_hex(16)
        self._ttl_ms = ttl_ms
        self._expire = runner(redis, CompareAndExpire)
        self._delete = runner(redis, CompareAndDelete)

    @classmethod
    def poller(cls, redis: RedisClient, keys: Keys, platform: str) -> LeaderLock:
        """The lock of the one process that polls ``platform`` ("vk", "max")."""
        return cls(redis, keys, ttl_ms=POLL_LEADER_TTL_MS, key=keys.poll_leader(platform))

    @guarded
    async def take(self) -> bool:
        """Take the lock if nobody holds it, or keep it (renewed) if this process still does.

        A leader steps down when a renewal fails on a Redis error (it cannot know whether the
        lock lapsed); its lock may still be its own, and then it leads again at its next try,
        not after the lock's ttl with nobody polling or scheduling meanwhile."""
        if await self._redis.set(self._key, self._token, nx=True, px=self._ttl_ms):
            return True
        return bool(await self._expire(CompareAndExpire(self._key, self._token, self._ttl_ms)))

    @guarded
    async def renew(self) -> bool:
        """Extend the lock; False when this process no longer holds it."""
        return bool(await self._expire(CompareAndExpire(self._key, self._token, self._ttl_ms)))

    @guarded
    async def release(self) -> bool:
        """Give the lock up if this process still holds it."""
        return bool(await self._delete(CompareAndDelete(self._key, self._token)))


class PollCursor:
    """Where polling of one platform stands, kept for whichever process polls next."""

    def __init__(self, redis: RedisClient, keys: Keys, platform: str) -> None:
        self._redis = redis
        self._key = keys.poll_cursor(platform)

    @guarded
    async def load(self) -> str | None:
        raw = await self._redis.get(self._key)
        return None if raw is None else text(raw)

    @guarded
    async def save(self, value: str) -> None:
        await self._redis.set(self._key, value, ex=POLL_CURSOR_TTL)
