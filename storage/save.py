"""The turn's save: one Lua script that stores a state under the lock, with what goes with it.

It checks both the lock token and the version, so a holder whose lock expired can never
overwrite newer state; in the same step it marks the inbox entry processed, appends the turn's
history entry, renews the lock, keeps the turn's effects (for a process that dies before
running them: ``storage.locks.Lease.effects``) and, outside a cluster, writes the turn's outbox
entries and the turn's funnel counts (``storage.funnel``). ``save_call`` builds its only calls
(``Save``; ``SaveCounted`` and ``SaveWithOutbox`` outside a cluster). This module must not
decide what to save.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from storage.funnel import Counts
from storage.keyparts import FUNNEL_TTL
from storage.keys import Keys
from storage.locks import Lock
from storage.reached import Reached
from storage.scripts import Arg, Key, Script, Spread

# KEYS: state, lock, inbox, history, the steps reached (``storage.reached``), profile, tags,
# then (with outbox entries) outbox data and lease, then (outside a cluster, counting) the
# funnel's day counter: always the last key.
# ARGV: token, expected version, json, ttl seconds, the ttl's refresh window (``refresh_mark``),
# inbox id or "", lock ttl ms (0: a lock taken or renewed moments ago, left as it is), the
# turn's effects ("-": leave those stored, "": none), the number n of outbox entries then n
# pairs (id, json), then the turn's profile writes (``Writes``): k pairs (field, value) after
# k, then t tags after t, then the funnel's: m, and when m > 0 the counter's ttl and m pairs
# (field, increment) counted in KEYS[#KEYS] (``storage.funnel.counts_of``: one pair a turn),
# then the steps reached: q, and when q > 0 their time (ms) and q members (one ZADD for them
# all), then (optional) a history entry: a MINID to trim to or "", then XADD arguments after
# the key (trim options, "*", field, value, ...).
# The outbox entries' lease score is the server's time in ms: the history entry's id when the
# save writes one (XADD "*" takes it from the server's clock; a stream whose last id is later
# gives that, a lease a moment longer), else TIME.
# The state's EXPIRE runs once per refresh window (a 30th of the ttl: one a day for 30 days),
# its mark kept in the state's field "x": a state lives between 29 and 30 30ths of its ttl
# after its last save, and a customer's later messages that window cost no EXPIRE. The
# state, its mark and the turn's effects go in one HSET.
# On a cluster the turn's outbox entries were written just before, noted in the state hash as
# ``u:<token>`` (``storage.state.States._before``): the save deletes the note.
# Returns {new version, 0} or {-1, 0} lock lost, {-2, stored version} version conflict.
SAVE_LUA = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {-1, 0} end
local s = redis.call('HMGET', KEYS[1], 'v', 'x')
local v = tonumber(s[1] or '0')
if v ~= tonumber(ARGV[2]) then return {-2, v} end
v = v + 1
local f = {'v', v, 'd', ARGV[3]}
local refresh = tonumber(ARGV[4]) > 0 and s[2] ~= ARGV[5]
if refresh then f[5] = 'x'; f[6] = ARGV[5] end
if ARGV[8] ~= '' and ARGV[8] ~= '-' then f[#f + 1] = 'fx'; f[#f + 1] = ARGV[8] end
redis.call('HSET', KEYS[1], unpack(f))
if ARGV[8] == '' then redis.call('HDEL', KEYS[1], 'fx') end
redis.call('HDEL', KEYS[1], 'u:' .. ARGV[1])  -- the note of a cluster's outbox entries
if refresh then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
if ARGV[7] ~= '0' then redis.call('PEXPIRE', KEYS[2], ARGV[7]) end
if ARGV[6] ~= '' then redis.call('XDEL', KEYS[3], ARGV[6]) end
local n = tonumber(ARGV[9])
local c = 10 + 2 * n
local k = tonumber(ARGV[c])
if k > 0 then redis.call('HSET', KEYS[6], unpack(ARGV, c + 1, c + 2 * k)) end
c = c + 1 + 2 * k
k = tonumber(ARGV[c])
if k > 0 then redis.call('SADD', KEYS[7], unpack(ARGV, c + 1, c + k)) end
c = c + 1 + k
local m = tonumber(ARGV[c])
local r = c + 1
if m > 0 then r = c + 2 + 2 * m end
local q = tonumber(ARGV[r])
local h = r + 1
if q > 0 then h = r + 2 + q end
local now
if #ARGV > h then
  now = tonumber(string.match(redis.call('XADD', KEYS[4], unpack(ARGV, h + 1)), '^%d+'))
  if ARGV[h] ~= '' then redis.call('XTRIM', KEYS[4], 'MINID', ARGV[h]) end
end
if n > 0 then
  if not now then
    local t = redis.call('TIME')
    now = t[1] * 1000 + math.floor(t[2] / 1000)
  end
  for i = 10, 8 + 2 * n, 2 do
    redis.call('HSET', KEYS[8], ARGV[i], ARGV[i + 1])
    redis.call('ZADD', KEYS[9], now, ARGV[i])
  end
end
-- the funnel (storage.funnel, COUNT_LUA): EXPIRE only when a field is new
if m > 0 then
  local fresh = false
  for i = c + 2, c + 2 * m, 2 do
    if redis.call('HINCRBY', KEYS[#KEYS], ARGV[i], ARGV[i + 1]) == tonumber(ARGV[i + 1]) then
      fresh = true
    end
  end
  if fresh then redis.call('EXPIRE', KEYS[#KEYS], ARGV[c + 1]) end
end
if q > 0 then
  local z = {}
  for i = r + 2, r + 1 + q do z[#z + 1] = ARGV[r + 1]; z[#z + 1] = ARGV[i] end
  redis.call('ZADD', KEYS[5], unpack(z))
end
return {v, 0}
"""

LOCK_LOST, VERSION_CONFLICT = -1, -2  # the first number of the script's reply, on refusal


@dataclass(frozen=True, slots=True)
class Writes:
    """A turn's profile fields (normalised) and tags, written by its save: in the same step
    as the state, so they need neither a round trip of their own nor a place among the
    effects a crash leaves to run again (``storage.locks.Lease.effects``)."""

    fields: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()

    def args(self) -> list[Arg]:
        flat: list[Arg] = [len(self.fields)]
        for pair in self.fields:
            flat += pair
        return [*flat, len(self.tags), *self.tags]


_NO_WRITES: list[Arg] = [0, 0]


@dataclass(slots=True)
class Record:
    """What one save writes: the state (JSON) at ``version`` + 1, and what goes with it (not
    frozen, like the script calls: built per turn, see ``storage.scripts.Script``)."""

    data: str
    version: int
    ttl: int  # seconds; 0 keeps the state forever
    inbox_id: str | None = None  # the entry this turn settles
    effects: str | None = None  # the turn's encoded effects; "" none, None leave stored
    history: Sequence[Arg] = ()  # ``History.script_args`` of the turn's inbound entry
    outbox: Sequence[tuple[str, str]] = ()  # (id, json) of the replies, outside a cluster
    outbox_keys: Sequence[str] = ()  # ``Outbox.put_keys(outbox)``, with ``outbox``
    counts: Counts | None = None  # the funnel's, outside a cluster (``storage.funnel``)
    reached: Reached | None = None  # the steps the turn entered (``storage.reached``)
    renew: bool = True  # renew the lock for its ttl (False: its holder knows it is fresh)
    writes: Writes | None = None  # profile fields and tags the turn stores with its state


@dataclass(slots=True)
class Save(Script):
    """The save in the customer's slot alone (no outbox entries: ``count`` 0)."""

    LUA: ClassVar[str] = SAVE_LUA
    state: Key
    lock: Key
    inbox: Key
    history: Key
    reached: Key
    profile: Key
    tags: Key
    token: str
    version: int
    data: str
    ttl: int
    mark: str  # ``refresh_mark(ttl)``
    inbox_id: str
    lock_ms: int
    effects: str
    count: int
    rest: Spread  # the outbox entries' (id, json) pairs, the funnel's 0, the history entry

    @classmethod
    def example(cls, keys: Keys) -> Self:
        record = Record(data="{}", version=0, ttl=0, inbox_id="1-0", history=("", "*", "t", "x"))
        call = save_call(keys, Lock("c1", "p.token", 30.0), record)
        if not isinstance(call, cls):
            raise TypeError("save_call without outbox entries builds a Save")
        return call


REFRESHES_PER_TTL = 30  # the state's EXPIRE runs once per this fraction of its ttl


def refresh_mark(ttl: int, now: float) -> str:
    """The refresh window of a state with ``ttl`` seconds at ``now``: a save in the window
    whose EXPIRE already ran (the state's field "x" holds this mark) runs none. The window's
    length is in the mark, so a changed ttl refreshes at once."""
    window = max(1, ttl // REFRESHES_PER_TTL)
    return f"{window}.{int(now // window)}"


_EXAMPLE_COUNTS = Counts("2026-12-05", (("e|booking|day|vk", 1),))


@dataclass(slots=True)
class SaveCounted(Script):
    """The save adding the turn's funnel counts (``storage.funnel``): two slots, outside a
    cluster only (on one, ``Save`` and then ``storage.funnel.Count``)."""

    LUA: ClassVar[str] = SAVE_LUA
    SLOTS: ClassVar[int] = 2
    state: Key
    lock: Key
    inbox: Key
    history: Key
    reached: Key
    profile: Key
    tags: Key
    counter: Key
    token: str
    version: int
    data: str
    ttl: int
    mark: str  # ``refresh_mark(ttl)``
    inbox_id: str
    lock_ms: int
    effects: str
    count: int
    rest: Spread

    @classmethod
    def example(cls, keys: Keys) -> Self:
        record = Record(data="{}", version=0, ttl=0, counts=_EXAMPLE_COUNTS)
        call = save_call(keys, Lock("c1", "p.token", 30.0), record)
        if not isinstance(call, cls):
            raise TypeError("save_call with counts and no outbox entries builds a SaveCounted")
        return call


@dataclass(slots=True)
class SaveWithOutbox(Script):
    """The save writing the turn's outbox entries too: two slots, outside a cluster only."""

    LUA: ClassVar[str] = SAVE_LUA
    SLOTS: ClassVar[int] = 3
    state: Key
    lock: Key
    inbox: Key
    history: Key
    reached: Key
    profile: Key
    tags: Key
    outbox_data: Key
    outbox_lease: Key
    counter: Key  # the funnel's day (``outbox_data`` again, untouched, when nothing counts)
    token: str
    version: int
    data: str
    ttl: int
    mark: str  # ``refresh_mark(ttl)``
    inbox_id: str
    lock_ms: int
    effects: str
    count: int
    rest: Spread

    @classmethod
    def example(cls, keys: Keys) -> Self:
        record = Record(data="{}", version=0, ttl=0, outbox=[("1-a-b-o3", "{}")],
                        outbox_keys=keys.outbox(3)[:2], counts=_EXAMPLE_COUNTS)
        call = save_call(keys, Lock("c1", "p.token", 30.0), record)
        if not isinstance(call, cls):
            raise TypeError("save_call with outbox entries builds a SaveWithOutbox")
        return call


def save_call(keys: Keys, lock: Lock, record: Record) -> Save | SaveCounted | SaveWithOutbox:
    """The call of ``SAVE_LUA`` for ``record``; with its outbox keys when it has entries,
    with the funnel's counter when it counts."""
    c = lock.customer
    effects = "-" if record.effects is None else record.effects
    mark = refresh_mark(record.ttl, time.time()) if record.ttl > 0 else ""
    lock_ms = lock.ttl_ms if record.renew else 0
    rest: list[Arg] = []
    for entry in record.outbox:
        rest += entry
    rest += record.writes.args() if record.writes else _NO_WRITES
    counts = record.counts
    rest += [len(counts.pairs), FUNNEL_TTL, *counts.args()] if counts else [0]
    rest += record.reached.args() if record.reached else [0]
    rest += record.history
    k, inbox_id = keys, record.inbox_id or ""
    if not record.outbox:
        if counts is not None:
            return SaveCounted(k.state(c), k.lock(c), k.inbox(c), k.history(c), k.reached(c),
                               k.profile(c), k.tags(c), counts.key(k), lock.token,
                               record.version, record.data, record.ttl, mark, inbox_id, lock_ms,
                               effects, 0, rest)
        return Save(k.state(c), k.lock(c), k.inbox(c), k.history(c), k.reached(c), k.profile(c),
                    k.tags(c), lock.token, record.version, record.data, record.ttl, mark,
                    inbox_id, lock_ms, effects, 0, rest)
    data_key, lease_key = record.outbox_keys
    counter = counts.key(k) if counts else data_key
    return SaveWithOutbox(k.state(c), k.lock(c), k.inbox(c), k.history(c), k.reached(c),
                          k.profile(c), k.tags(c), data_key, lease_key, counter, lock.token,
                          record.version, record.data, record.ttl, mark, inbox_id, lock_ms,
                          effects, len(record.outbox), rest)
