"""The customer lock's scripts, each called through its dataclass (``storage.scripts``).

A lock's value is its holder's token, followed by one ``+`` per inbox push made while it was
held (``MARKED``): the accept whose ``SET NX`` failed, and ``storage.inbox``'s pushes, append
one in the same step as the push. So the holder's release learns from its ``GETDEL`` alone
whether anything arrived during its turn: the token alone (the steady path) means nothing did
and the lock is gone, without reading the inbox; a marked token means "read the inbox" (the
rows come back and the lock is kept, unmarked). A push after the release finds no lock (the
accept then takes it itself; a plain push's caller leases it). Every script that compares the
lock with a token accepts the marked value too (``HOLDS``); ``storage.takeover`` compares a
prefix, which the marks leave alone.

This module must not read or write the state's content (``storage.save`` does) nor decide
when to take or release (``storage.locks``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

from storage.keyparts import OutboxKeys
from storage.keys import Keys
from storage.scripts import Arg, Key, Script, Spread


@dataclass(frozen=True, slots=True)
class Lock:
    """A held customer lock: the token proves ownership to ``save``/``release``."""

    customer: str
    token: str
    ttl: float
    # When the call that takes it was made (``time.monotonic``): the lock's expiry is at
    # least ``ttl`` after it, so a holder can tell it is fresh (``bots.held.Held.stale``).
    taken: float = field(default_factory=time.monotonic, compare=False)

    @property
    def ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))


# ``holds(value, token)``: the lock's value is ``token``, marked or not. A prelude of every
# script that compares a lock with a token (``storage.save``'s too).
HOLDS = """
local function holds(v, t)
  if v == t then return true end
  return v and #v > #t and string.sub(v, 1, #t) == t and string.find(v, '^%+*$', #t + 1) ~= nil
end
"""

# The mark, after a push into ``KEYS[lock]``'s customer's inbox (a held lock only: APPEND
# would create a missing key, without expiry). Spelled into the pushing scripts.
MARK_IF_HELD = "if redis.call('EXISTS', {lock}) == 1 then redis.call('APPEND', {lock}, '+') end"

_ACQUIRE_LUA = HOLDS + """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local holder, ours = redis.call('GET', KEYS[1]), false
  for i = 3, #ARGV do
    if holds(holder, ARGV[i]) then ours = true; break end
  end
  if not ours then return false end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local s = redis.call('HMGET', KEYS[2], 'v', 'd', 'fx', 'x')
return {s[1], s[2], redis.call('XRANGE', KEYS[3], '-', '+'), s[3], s[4]}
"""

# The release rule: KEYS[1] the lock, KEYS[2] the inbox, KEYS[#KEYS] the state; ARGV[1] the
# token, ARGV[2] "1" when the state holds a turn's effects ("0": the holder knows it holds
# none, and the HDEL is saved), ARGV[3] the lock's ttl in ms. Release when nothing arrived
# ({}), forgetting the last turn's effects (they ran); otherwise keep the lock and return the
# pending rows. 0 when the lock is no longer ours.
# One GETDEL takes and compares the lock: the token alone (the steady path) is released, with
# no read of the inbox. A marked token: something was pushed during the turn, so the inbox is
# read; rows left keep the lock (put back unmarked, for the full ttl). A lock that is not ours
# is put back at once, in the same atomic step (nobody sees it gone), with the full ttl — a
# little longer than it had left, never shorter, so it stays exclusive.
_RELEASE_IF_IDLE_LUA = """
local held = redis.call('GETDEL', KEYS[1])
if held ~= ARGV[1] then
  if not holds(held, ARGV[1]) then
    if held then redis.call('SET', KEYS[1], held, 'PX', ARGV[3]) end
    return 0
  end
  local rows = redis.call('XRANGE', KEYS[2], '-', '+')
  if #rows > 0 then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
    return rows
  end
end
if ARGV[2] ~= '0' then redis.call('HDEL', KEYS[#KEYS], 'fx') end
return {}
"""

# Per reply (ARGV[5] of them, from ARGV[6]): its outbox id, k, then k XADD arguments after the
# history key; then the release rule above. The entry's HDEL takes its post mark too
# (``storage.outbox_scripts.POSTING_LUA``: a MAX reply's). ARGV[4] "0": no reply can have been
# claimed by a re-send (``storage.outbox.maybe_claimed``), so none has a claim count to delete.
_ACK_REPLIES_LUA = """
local i = 6
for _ = 1, tonumber(ARGV[5]) do
  local id = ARGV[i]
  redis.call('ZREM', KEYS[5], id)
  if ARGV[4] ~= '0' then redis.call('HDEL', KEYS[6], id) end
  redis.call('HDEL', KEYS[4], id, 'p:' .. id)
  local k = tonumber(ARGV[i + 1])
  redis.call('XADD', KEYS[3], unpack(ARGV, i + 2, i + 1 + k))
  i = i + 2 + k
end
"""


@dataclass(slots=True)
class Acquire(Script):
    """Take the lock (also when an orphaned token of ours holds it: see ``Orphans.add``) and
    read the state and the pending inbox in one step: {version, data, rows, effects of a turn
    cut short, the state's refresh mark}, or false when another holds the lock."""

    LUA: ClassVar[str] = _ACQUIRE_LUA
    lock: Key
    state: Key
    inbox: Key
    token: str
    ttl_ms: int
    orphans: Spread

    @classmethod
    def of(cls, keys: Keys, held: Lock, orphans: Sequence[str]) -> Self:
        c = held.customer
        return cls(keys.lock(c), keys.state(c), keys.inbox(c), held.token, held.ttl_ms,
                   tuple(orphans))

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, Lock("c1", "p.token", 30.0), ["p.old"])


@dataclass(slots=True)
class ReleaseIfIdle(Script):
    """The release rule above: the pending rows, {} once released, 0 when no longer ours."""

    LUA: ClassVar[str] = HOLDS + _RELEASE_IF_IDLE_LUA
    lock: Key
    inbox: Key
    state: Key
    token: str
    effects: str  # "1": the state may hold a turn's effects, "0": it holds none
    ttl_ms: int  # a lock not ours is put back with this ttl

    @classmethod
    def of(cls, keys: Keys, held: Lock, *, effects: bool = True) -> Self:
        c = held.customer
        return cls(keys.lock(c), keys.inbox(c), keys.state(c), held.token,
                   "1" if effects else "0", held.ttl_ms)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, Lock("c1", "p.token", 30.0))


@dataclass(slots=True)
class ReleaseAcked(Script):
    """Acknowledge a turn's sent replies and record them in the history, then the release
    rule of ``ReleaseIfIdle`` (the same text). Two slots (the customer's and an outbox shard's):
    never on a cluster."""

    LUA: ClassVar[str] = HOLDS + _ACK_REPLIES_LUA + _RELEASE_IF_IDLE_LUA
    SLOTS: ClassVar[int] = 2
    lock: Key
    inbox: Key
    history: Key
    outbox_data: Key
    outbox_lease: Key
    outbox_tries: Key
    state: Key
    token: str
    effects: str  # as ``ReleaseIfIdle.effects``
    ttl_ms: int  # as ``ReleaseIfIdle.ttl_ms``
    claimed: str  # "0": no reply can have been claimed by a re-send, "1": one may have been
    count: int
    replies: Spread

    @classmethod
    def of(cls, keys: Keys, held: Lock, acked: Sequence[tuple[str, Sequence[Arg]]],
           outbox: OutboxKeys, *, effects: bool = True, claimed: bool = True) -> Self:
        """``acked``: per delivered reply its outbox id (all in the shard ``outbox``) and the
        XADD arguments of its history entry after the key (``History.script_args`` without
        the age trim). ``effects``: False when the holder knows the state holds none;
        ``claimed``: False when no reply can have been claimed
        (``storage.outbox.maybe_claimed``)."""
        c = held.customer
        spread: list[Arg] = []
        for entry_id, xadd in acked:
            spread += (entry_id, len(xadd), *xadd)
        return cls(keys.lock(c), keys.inbox(c), keys.history(c), outbox.data, outbox.lease,
                   outbox.tries, keys.state(c), held.token, "1" if effects else "0",
                   held.ttl_ms, "1" if claimed else "0", len(acked), spread)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, Lock("c1", "p.token", 30.0), [("1-a-b-o3", ["*", "t", "hi"])],
                      keys.outbox(3))


@dataclass(slots=True)
class LockDelete(Script):
    """Delete the lock while it holds ``token`` (marked or not); 1 if deleted, else 0."""

    LUA: ClassVar[str] = HOLDS + """
if holds(redis.call('GET', KEYS[1]), ARGV[1]) then return redis.call('DEL', KEYS[1]) end
return 0
"""
    lock: Key
    token: str

    @classmethod
    def of(cls, keys: Keys, held: Lock) -> Self:
        return cls(keys.lock(held.customer), held.token)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, Lock("c1", "p.token", 30.0))


@dataclass(slots=True)
class LockExpire(Script):
    """Renew the lock's expiry to ``ttl_ms`` while it holds ``token`` (marked or not); 1 if
    renewed. The marks stay: what was pushed is still to be read by the release."""

    LUA: ClassVar[str] = HOLDS + """
if holds(redis.call('GET', KEYS[1]), ARGV[1]) then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
    lock: Key
    token: str
    ttl_ms: int

    @classmethod
    def of(cls, keys: Keys, held: Lock, ms: int) -> Self:
        return cls(keys.lock(held.customer), held.token, ms)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, Lock("c1", "p.token", 30.0), 30_000)
