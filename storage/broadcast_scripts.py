"""The broadcasts' Lua scripts, each with its typed call (``storage.scripts``).

``ClaimPut`` takes a customer's copy of a broadcast and writes its outbox entry in one step,
both in the customer's outbox shard (one slot): a crash before it leaves nothing (the copy is
sent later), a crash after it leaves an entry the outbox re-sends (never a second copy).
``Finish`` and ``Mark`` record an outcome once per customer and count it in the same step,
all under the broadcast's ``{bc:<id>}`` tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from storage.keyparts import OutboxKeys, broadcast_claim
from storage.keys import Keys
from storage.outbox_scripts import PUT_LUA
from storage.scripts import Key, Script

CLAIM_TTL = 400 * 86_400  # a claim outlives any broadcast's sending and its re-sends

CLAIM_PUT_LUA = """
if not redis.call('SET', KEYS[3], ARGV[1], 'NX', 'EX', ARGV[3]) then return 0 end
""" + PUT_LUA


@dataclass(slots=True)
class ClaimPut(Script):
    """``CLAIM_PUT_LUA``: 0 when the copy was claimed before; else the outbox put's time."""

    LUA: ClassVar[str] = CLAIM_PUT_LUA
    data: Key
    lease: Key
    claim: Key
    id: str
    json: str
    ttl: int

    @classmethod
    def of(cls, keys: OutboxKeys, claim: str, entry_id: str, json: str) -> Self:
        return cls(keys.data, keys.lease, claim, entry_id, json, CLAIM_TTL)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(3), broadcast_claim(keys.prefix, "b1", "c1", 3), "1-a-b", "{}")


FINISH_LUA = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
return 1
"""


@dataclass(slots=True)
class Finish(Script):
    """``FINISH_LUA``: the customer leaves the queue; its outcome is kept and counted once."""

    LUA: ClassVar[str] = FINISH_LUA
    waiting: Key  # the queue (``Script.queue`` is a method)
    done: Key
    stats: Key
    customer: str
    outcome: str
    counter: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        bc = keys.broadcast("b1")
        return cls(bc.queue, bc.done, bc.stats, "c1", "sent vk", "vk:sent")


MARK_LUA = """
if redis.call('HSETNX', KEYS[1], ARGV[1], '1') == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
return 1
"""


@dataclass(slots=True)
class Mark(Script):
    """``MARK_LUA``: count a recipient's reply, unsubscription or conversion once."""

    LUA: ClassVar[str] = MARK_LUA
    marks: Key
    stats: Key
    field: str
    counter: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        bc = keys.broadcast("b1")
        return cls(bc.marks, bc.stats, "c1 replied", "vk:replied")


# A member of a VK batch (``bots.broadcast_vk``): the claim's value names the entry and its
# batch; a copy claimed before answers with that value (the batch it went with), not 0.
CLAIM_MEMBER_LUA = """
local old = redis.call('GET', KEYS[3])
if old then return old end
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
""" + PUT_LUA

# Gives a batch member's copy back before anything was sent: its claim and its entry go
# together (only while the claim is still this one's).
UNCLAIM_LUA = """
if redis.call('GET', KEYS[4]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return math.min(1, redis.call('HDEL', KEYS[1], ARGV[1], 'p:' .. ARGV[1]))
"""


@dataclass(slots=True)
class ClaimMember(Script):
    """``CLAIM_MEMBER_LUA``: the earlier claim's value ("<entry> <batch>") when the copy was
    claimed before; else the outbox put's time."""

    LUA: ClassVar[str] = CLAIM_MEMBER_LUA
    data: Key
    lease: Key
    claim: Key
    id: str
    json: str
    value: str
    ttl: int

    @classmethod
    def of(cls, keys: OutboxKeys, claim: str, entry_id: str, json: str, batch: str) -> Self:
        return cls(keys.data, keys.lease, claim, entry_id, json, f"{entry_id} {batch}",
                   CLAIM_TTL)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(3), broadcast_claim(keys.prefix, "b1", "c1", 3), "1-a-b", "{}",
                      "k1")


@dataclass(slots=True)
class Unclaim(Script):
    """``UNCLAIM_LUA``: 1 when the claim and the entry were taken back."""

    LUA: ClassVar[str] = UNCLAIM_LUA
    data: Key
    lease: Key
    tries: Key
    claim: Key
    id: str
    value: str

    @classmethod
    def of(cls, keys: OutboxKeys, claim: str, entry_id: str, batch: str) -> Self:
        return cls(keys.data, keys.lease, keys.tries, claim, entry_id, f"{entry_id} {batch}")

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys.outbox(3), broadcast_claim(keys.prefix, "b1", "c1", 3), "1-a-b", "k1")
