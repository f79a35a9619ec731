"""A platform's rate limit kept in Redis, so every process sending with one token shares it.

One sorted set per platform and bot (``Keys.rate_slots``): member = a request's slot id, score
= when that slot frees (Redis server time, ms). A take (one script, ``TakeSlot``) drops the
freed slots and, while fewer than ``limit`` remain, adds the new one leased for ``hold_ms``
(the longest a request may stay in flight; a process that dies holding a slot loses it then).
A release (``ReleaseSlot``) sets the slot to free ``per_ms`` after the answer came. The set
needs no expiry: a take trims what has freed, so it never holds more than ``limit`` slots
plus those still leased. That is
``connectors.common.ArrivalLimiter``'s rule on one clock, the Redis server's: a slot is
granted only while fewer than ``limit`` requests are in flight or were answered less than
``per`` ago, so at most ``limit`` arrive at the platform in any window shorter than ``per``.
At most once a second a take also marks the caller in ``Keys.rate_peers`` (member -> last
mark) and answers how many marked themselves within ``PEER_TTL_MS``, which a process divides
the rate by when Redis stops answering (``connectors.ratelimit``).

This module must not wait or decide priorities (``connectors.ratelimit`` does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from storage.client import RedisClient
from storage.errors import guarded
from storage.keys import Keys
from storage.scripts import Key, Script, runner

HOLD_MS = 60_000  # a request in flight longer than this (a MAX long poll is <= 45 s) is lost
PEER_TTL_MS = 10_000  # a process that took no slot this long no longer counts as a peer
MARK_EVERY = 1.0  # seconds between a process's marks among the peers

_NOW_MS = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# Four commands per take (TIME, ZREMRANGEBYSCORE, ZCARD, ZADD) and four more at most once a
# second per process, when it marks itself among the peers (ARGV[4] not empty).
TAKE_LUA = _NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local peers = -1
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], now, ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  peers = redis.call('ZCARD', KEYS[2])
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  return {1, 0, peers}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(first[2]) - now, peers}
"""

# Two commands (TIME, ZADD). Re-added if its lease ended: it still counts until then.
RELEASE_LUA = _NOW_MS + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""


@dataclass(slots=True)
class TakeSlot(Script):
    """``TAKE_LUA``: ``{granted 0/1, ms until the first slot frees, peers or -1}``; ``member``
    "" leaves the peers alone (-1)."""

    LUA: ClassVar[str] = TAKE_LUA
    slots: Key
    peers: Key
    slot_id: str
    limit: int
    hold_ms: int
    member: str
    peer_ttl_ms: int

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.rate_slots("max"), keys.rate_peers("max"), "p:1", 30, HOLD_MS, "p",
                   PEER_TTL_MS)


@dataclass(slots=True)
class ReleaseSlot(Script):
    """``RELEASE_LUA``: slot ``slot_id`` frees ``per_ms`` from now (re-added if its lease
    ended: it still counts until then)."""

    LUA: ClassVar[str] = RELEASE_LUA
    slots: Key
    slot_id: str
    per_ms: int

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.rate_slots("max"), "p:1", 1000)


@dataclass(frozen=True, slots=True)
class Taken:
    """What a take answered (``connectors.ratelimit.Grant`` has the same fields)."""

    granted: bool
    wait: float  # seconds until the first slot frees
    peers: int  # -1: not counted this time


class RedisSlots:
    """The shared slots of one platform's limit (``connectors.ratelimit.SharedSlots``)."""

    def __init__(self, redis: RedisClient, keys: Keys, *, platform: str, member: str,
                 per: float = 1.0, hold_ms: int = HOLD_MS) -> None:
        self._slots = keys.rate_slots(platform)
        self._peers = keys.rate_peers(platform)
        self._member = member
        self._marked = -MARK_EVERY  # time.monotonic() of the last mark among the peers
        self._per_ms = max(1, round(per * 1000))
        self._hold_ms = hold_ms
        self._take = runner(redis, TakeSlot)
        self._release = runner(redis, ReleaseSlot)

    @guarded
    async def take(self, slot_id: str, *, limit: int) -> Taken:
        now = time.monotonic()
        member = self._member if now - self._marked >= MARK_EVERY else ""
        if member:
            self._marked = now
        reply: Any = await self._take(TakeSlot(self._slots, self._peers, slot_id, limit,
                                               self._hold_ms, member, PEER_TTL_MS))
        granted, wait_ms, peers = (int(x) for x in reply)
        return Taken(bool(granted), max(0, wait_ms) / 1000, peers)

    @guarded
    async def release(self, slot_id: str) -> None:
        await self._release(ReleaseSlot(self._slots, slot_id, self._per_ms))
