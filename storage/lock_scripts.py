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
local s = redis.call('HMGET', KEYS[2], 'v', 'd', 'fx', 'x', 'out')
return {s[1], s[2], redis.call('XRANGE', KEYS[3], '-', '+'), s[3], s[4], s[5]}
"""

# The release: KEYS lock, inbox, history, state; ARGV[1] the token, ARGV[2] the lock's ttl in
# ms, ARGV[3] "1" when the state may hold a turn's effects ("0": its holder knows it holds
# none), ARGV[4] g, then g fields of the state to delete once the lock proves ours (the turn's
# kept replies, ``out``, and their post marks ``p:<id>``: all sent, ``storage.kept``), then n,
# then per sent reply k and its history entry's k XADD arguments after the key.
# The history entries go first (sent is sent). One GETDEL takes and compares the lock: the
# token alone (the steady path) is released, with no read of the inbox. A marked token:
# something was pushed during the turn, so the inbox is read; rows left keep the lock (put
# back unmarked, for the full ttl) and are returned. A lock that is not ours is put back at
# once, in the same atomic step (nobody sees it gone), with the full ttl — a little longer
# than it had left, never shorter, so it stays exclusive — and 0 is returned: its new holder
# read the kept replies and re-sends them (``bots.kept``), so they stay. Released: {}, the
# last turn's effects forgotten (they ran) with the fields, in one HDEL.
_RELEASE_LUA = """
local g = tonumber(ARGV[4])
local i = 6 + g
for _ = 1, tonumber(ARGV[5 + g]) do
  local k = tonumber(ARGV[i])
  redis.call('XADD', KEYS[3], unpack(ARGV, i + 1, i + k))
  i = i + 1 + k
end
local held = redis.call('GETDEL', KEYS[1])
local rows = {}
if held ~= ARGV[1] then
  if not holds(held, ARGV[1]) then
    if held then redis.call('SET', KEYS[1], held, 'PX', ARGV[2]) end
    return 0
  end
  rows = redis.call('XRANGE', KEYS[2], '-', '+')
  if #rows > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
end
local gone = {}
for j = 5, 4 + g do gone[#gone + 1] = ARGV[j] end
if #rows == 0 and ARGV[3] ~= '0' then gone[#gone + 1] = 'fx' end
if #gone > 0 then redis.call('HDEL', KEYS[4], unpack(gone)) end
return rows
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
    """The release above: the pending rows, {} once released, 0 when no longer ours; with
    the turn's sent replies recorded in the history and its kept replies' fields deleted."""

    LUA: ClassVar[str] = HOLDS + _RELEASE_LUA
    lock: Key
    inbox: Key
    history: Key
    state: Key
    token: str
    ttl_ms: int  # a lock not ours is put back with this ttl
    effects: str  # "1": the state may hold a turn's effects, "0": it holds none
    count: int
    rest: Spread  # the fields to delete, then the replies' history entries

    @classmethod
    def of(cls, keys: Keys, held: Lock, *, effects: bool = True, gone: Sequence[str] = (),
           acked: Sequence[Sequence[Arg]] = ()) -> Self:
        """``gone``: the state's fields to delete once the lock proves ours (``out`` and the
        post marks); ``acked``: per sent reply the XADD arguments of its history entry after
        the key (``History.script_args`` without the age trim)."""
        c = held.customer
        rest: list[Arg] = [*gone, len(acked)]
        for xadd in acked:
            rest += (len(xadd), *xadd)
        return cls(keys.lock(c), keys.inbox(c), keys.history(c), keys.state(c), held.token,
                   held.ttl_ms, "1" if effects else "0", len(gone), rest)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, Lock("c1", "p.token", 30.0), gone=["out", "p:1-a-b-o3"],
                      acked=[["*", "t", "hi"]])


# A kept reply about to be posted to a platform without an idempotency key (MAX) is marked in
# its customer's state (``p:<id>``, ARGV[3] the posting process's clock in ms) while the lock
# holds the poster's token: 0 otherwise, and the post must not go out (the lock's new holder
# read the kept replies and their marks, and re-sends them itself). So a lessee's read of the
# marks (``storage.kept``) is final: no mark can come after it.
_POSTING_KEPT_LUA = HOLDS + """
if not holds(redis.call('GET', KEYS[1]), ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], 'p:' .. ARGV[2], ARGV[3])
return 1
"""

# Sent kept replies acknowledged apart from the release (between two entries under one lock,
# or after a release that failed, or by ``Store.release`` after a turn failed midway): their
# marks deleted and they leave ``out`` (1 when it is gone, every reply it held sent). A reply
# not among ARGV stays in ``out``, unchanged, for the next lease: only it is re-sent. ``out``
# is ``storage.kept.encode``'s text, ``["<id>",{...}]`` an entry (a quote inside the JSON is
# escaped), so the entries left are cut from it as they were written, not re-encoded.
_ACK_KEPT_LUA = """
local out = redis.call('HGET', KEYS[1], 'out')
if not out then return 0 end
local acked = {}
for _, id in ipairs(ARGV) do acked[id] = true end
local entries, rest, at = cjson.decode(out), {}, 1
for i, e in ipairs(entries) do
  local from, to = string.find(out, '["' .. e[1] .. '",{', at, true), #out - 1
  if not from then return 0 end  -- (not as encode wrote it: left for the release)
  local after = entries[i + 1] and string.find(out, ',["' .. entries[i + 1][1] .. '",{', from, true)
  if entries[i + 1] and not after then return 0 end
  if after then to = after - 1 end
  if not acked[e[1]] then rest[#rest + 1] = string.sub(out, from, to) end
  at = to + 1
end
local gone = {}
for _, id in ipairs(ARGV) do gone[#gone + 1] = 'p:' .. id end
if #rest == 0 then gone[#gone + 1] = 'out'
elseif #rest < #entries then
  redis.call('HSET', KEYS[1], 'out', '[' .. table.concat(rest, ',') .. ']')
end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
if #rest == 0 then return 1 end
return 0
"""


@dataclass(slots=True)
class PostingKept(Script):
    """``_POSTING_KEPT_LUA``: 1 marked, 0 the lock is no longer ``token``'s (do not post)."""

    LUA: ClassVar[str] = _POSTING_KEPT_LUA
    lock: Key
    state: Key
    token: str
    id: str
    ms: int

    @classmethod
    def of(cls, keys: Keys, held: Lock, entry_id: str, ms: int) -> Self:
        c = held.customer
        return cls(keys.lock(c), keys.state(c), held.token, entry_id, ms)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, Lock("c1", "p.token", 30.0), "1-a-b-o3", 0)


@dataclass(slots=True)
class AckKept(Script):
    """``_ACK_KEPT_LUA``: 1 when ``out`` is gone (all sent), else 0 (the rest stays)."""

    LUA: ClassVar[str] = _ACK_KEPT_LUA
    state: Key
    ids: Spread

    @classmethod
    def of(cls, keys: Keys, customer: str, ids: Sequence[str]) -> Self:
        return cls(keys.state(customer), tuple(ids))

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, "c1", ["1-a-b-o3"])


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
