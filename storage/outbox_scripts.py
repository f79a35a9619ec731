"""The outbox's Lua scripts, each with its typed call (``storage.scripts``): the only way
``storage.outbox`` runs them. Their keys are one outbox shard's (data, lease, tries), all under
its ``{outbox:<n>}`` hash tag: one Redis Cluster slot per call.

This module must not send anything nor decode entries (``storage.outbox`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from storage.keyparts import OutboxKeys
from storage.keys import OUTBOX_LEASE_MS, Keys
from storage.scripts import Key, Script, Spread

_NOW_MS = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

PUT_LUA = (
    _NOW_MS
    + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
return now
"""
)

# Leases ``ids`` that are still pending: {id, json, tries, ...}.
_TAKE_IDS = """
local out = {}
for _, id in ipairs(ids) do
  local j = redis.call('HGET', KEYS[1], id)
  if j then
    redis.call('ZADD', KEYS[2], now, id)
    local n = redis.call('HINCRBY', KEYS[3], id, 1)
    table.insert(out, id); table.insert(out, j); table.insert(out, n)
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
"""

CLAIM_LUA = (
    _NOW_MS
    + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[1]),
                       'LIMIT', 0, tonumber(ARGV[2]))
"""
    + _TAKE_IDS
)

CLAIM_IDS_LUA = _NOW_MS + "local ids = ARGV\n" + _TAKE_IDS

# Entries of a name never claimed since written (no tries): still leased by the writer, which
# is dead when its name is ours.
INHERIT_LUA = (
    _NOW_MS
    + """
local ids = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  if string.find(id, ARGV[1], 1, true) and not redis.call('HGET', KEYS[3], id) then
    table.insert(ids, id)
  end
end
"""
    + _TAKE_IDS
)

TOUCH_LUA = (
    _NOW_MS
    + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1])
return 1
"""
)

# A send about to post entry ``id`` to a platform without an idempotency key (MAX) marks when
# (ARGV[2]: the posting process's clock, ms), beside the entry in the data hash under
# ``p:<id>``: a re-send after a kill knows whether, and when, a post of it may still be
# landing (``Outbox.posts``). Every command that deletes the entry deletes its mark with it, in
# the same HDEL (the turn's release too: ``storage.locks``); an entry already gone gets none.
POSTING_LUA = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'p:' .. ARGV[1], ARGV[2])
return 1
"""

MARK = "p:"  # the post mark's field in the data hash: ``p:<id>`` (never an entry's id)

ACK_LUA = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return math.min(1, redis.call('HDEL', KEYS[1], ARGV[1], 'p:' .. ARGV[1]))
"""


@dataclass(slots=True)
class Put(Script):
    """``PUT_LUA``: write entry ``id`` and lease it to the writer; the server time (ms)."""

    LUA: ClassVar[str] = PUT_LUA
    data: Key
    lease: Key
    id: str
    json: str

    @classmethod
    def of(cls, keys: OutboxKeys, entry_id: str, json: str) -> Self:
        return cls(keys.data, keys.lease, entry_id, json)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(0), "1-a-b", "{}")


@dataclass(slots=True)
class Claim(Script):
    """``CLAIM_LUA``: lease up to ``count`` entries idle for ``min_idle_ms``."""

    LUA: ClassVar[str] = CLAIM_LUA
    data: Key
    lease: Key
    tries: Key
    min_idle_ms: int
    count: int

    @classmethod
    def of(cls, keys: OutboxKeys, min_idle_ms: int, count: int) -> Self:
        return cls(keys.data, keys.lease, keys.tries, min_idle_ms, count)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(0), OUTBOX_LEASE_MS, 100)


@dataclass(slots=True)
class ClaimIds(Script):
    """``CLAIM_IDS_LUA``: lease those of ``ids`` still pending."""

    LUA: ClassVar[str] = CLAIM_IDS_LUA
    data: Key
    lease: Key
    tries: Key
    ids: Spread

    @classmethod
    def of(cls, keys: OutboxKeys, ids: Sequence[str]) -> Self:
        return cls(keys.data, keys.lease, keys.tries, tuple(ids))

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(0), ["1-a-b", "2-a-c"])


@dataclass(slots=True)
class Inherit(Script):
    """``INHERIT_LUA``: lease the never-claimed entries whose id holds ``marker``."""

    LUA: ClassVar[str] = INHERIT_LUA
    data: Key
    lease: Key
    tries: Key
    marker: str

    @classmethod
    def of(cls, keys: OutboxKeys, instance: str) -> Self:
        return cls(keys.data, keys.lease, keys.tries, f"-{instance}-")

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(0), "0123456789ab")


@dataclass(slots=True)
class Touch(Script):
    """``TOUCH_LUA``: renew the lease of pending entry ``id``; 0 if it is not pending."""

    LUA: ClassVar[str] = TOUCH_LUA
    data: Key
    lease: Key
    id: str

    @classmethod
    def of(cls, keys: OutboxKeys, entry_id: str) -> Self:
        return cls(keys.data, keys.lease, entry_id)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(0), "1-a-b")


@dataclass(slots=True)
class Posting(Script):
    """``POSTING_LUA``: mark pending entry ``id`` as being posted at ``ms``; 0 if not pending."""

    LUA: ClassVar[str] = POSTING_LUA
    data: Key
    id: str
    ms: int

    @classmethod
    def of(cls, keys: OutboxKeys, entry_id: str, ms: int = 0) -> Self:
        return cls(keys.data, entry_id, ms)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(0), "1-a-b")


@dataclass(slots=True)
class Ack(Script):
    """``ACK_LUA``: forget entry ``id``; 1 if it was pending."""

    LUA: ClassVar[str] = ACK_LUA
    data: Key
    lease: Key
    tries: Key
    id: str

    @classmethod
    def of(cls, keys: OutboxKeys, entry_id: str) -> Self:
        return cls(keys.data, keys.lease, keys.tries, entry_id)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(0), "1-a-b")
