"""The reminder scheduler's leader lock: one key per bot, held by a random token per process.

This module owns the leader key's writes: take it (``SET NX PX``), renew it while this
process still holds it (compare-and-expire) and release it (compare-and-delete), each one
round trip with Redis errors mapped by ``guarded``. Each script has one typed builder beside
it, the only way to call it. It must not decide when to lead or what a leader does
(``bots.scheduler`` does), nor build key names (``storage.keys`` does).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from storage.client import RedisClient
from storage.errors import guarded
from storage.keys import SCHED_LEADER_TTL_MS, Keys

# Compare-and-expire: KEYS[1] the lock, ARGV[1] the holder's token, ARGV[2] the new TTL in ms.
COMPARE_AND_EXPIRE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# Compare-and-delete: KEYS[1] the lock, ARGV[1] the holder's token. The same script as
# ``storage.scripts``' one (the lead points this builder there once both are merged).
COMPARE_AND_DELETE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class CompareAndExpire:
    """Extend ``key``'s expiry to ``ttl_ms`` only while it holds ``token``; 1 when extended."""

    key: str
    token: str
    ttl_ms: int

    @property
    def keys(self) -> tuple[str]:
        return (self.key,)

    async def run(self, redis: RedisClient) -> int:
        return int(await redis.eval(COMPARE_AND_EXPIRE_LUA, 1, self.key, self.token, self.ttl_ms))


@dataclass(frozen=True, slots=True)
class CompareAndDelete:
    """Delete ``key`` only while it holds ``token``; 1 when deleted."""

    key: str
    token: str

    @property
    def keys(self) -> tuple[str]:
        return (self.key,)

    async def run(self, redis: RedisClient) -> int:
        return int(await redis.eval(COMPARE_AND_DELETE_LUA, 1, self.key, self.token))


class LeaderLock:
    """One process's hold on the bot's scheduler leader key (``Keys.sched_leader``)."""

    def __init__(self, redis: RedisClient, keys: Keys, *,
                 ttl_ms: int = SCHED_LEADER_TTL_MS) -> None:
        self._redis = redis
        self._key = keys.sched_leader
        self._token = secrets.token_hex(16)
        self._ttl_ms = ttl_ms

    @guarded
    async def take(self) -> bool:
        """Take the lock if nobody holds it."""
        return bool(await self._redis.set(self._key, self._token, nx=True, px=self._ttl_ms))

    @guarded
    async def renew(self) -> bool:
        """Extend the lock; False when this process no longer holds it."""
        return bool(await CompareAndExpire(self._key, self._token, self._ttl_ms).run(self._redis))

    @guarded
    async def release(self) -> bool:
        """Give the lock up if this process still holds it."""
        return bool(await CompareAndDelete(self._key, self._token).run(self._redis))
