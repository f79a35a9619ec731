"""The turn's save: one Lua script that stores a state under the lock, with what goes with it.

It checks the lock token, and the version unless its caller passes the refresh marks it
knows (``Marks``: the lock check alone then proves the version), so a holder whose lock
expired can never overwrite newer state; in the same step it marks the inbox entry processed,
appends the turn's history entry, renews the lock, keeps the turn's effects (for a process
that dies before running them: ``storage.locks.Lease.effects``) and, outside a cluster,
keeps the turn's replies in the state (``storage.kept``) and, outside a cluster, writes the
turn's funnel counts (``storage.funnel``). ``save_call`` builds its only calls (``Save``;
``SaveCounted`` outside a cluster). This module must not decide what to save.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from storage.funnel import Counts
from storage.keyparts import FUNNEL_TTL
from storage.keys import Keys
from storage.lock_scripts import HOLDS
from storage.locks import Lock
from storage.reached import Reached
from storage.scripts import Arg, Key, Script, Spread

# KEYS: state, lock, inbox, history, the steps reached (``storage.reached``), profile, tags,
# then (outside a cluster, counting) the funnel's day counter: always the last key.
# ARGV: token, expected version, json, ttl seconds, the ttl's refresh window (``refresh_mark``),
# the window the state holds as its caller knows it (``Marks``; "?": unknown, read with the
# version and checked), inbox id or "", lock ttl ms (0: a lock taken or renewed moments ago, left
# as it is), the turn's effects ("-": leave those stored, "": none), the turn's replies kept
# in the state (``storage.kept``: its field ``out``; "": none, leave it), then the turn's
# profile writes (``Writes``): k pairs (field, value) after k, then t tags after t, then the
# funnel's: m, and when m > 0 the counter's ttl and m pairs (field, increment) counted in
# KEYS[#KEYS] (``storage.funnel.counts_of``: one pair a turn), then the steps reached: q, and
# when q > 0 their time (ms) and q members (one ZADD for them all), then (optional) a history
# entry: a MINID to trim to or "", then XADD arguments after the key (trim options, "*",
# field, value, ...).
# The state's EXPIRE runs once per refresh window (a 30th of the ttl: one a day for 30 days),
# its mark kept in the state's field "x": a state lives between 29 and 30 30ths of its ttl
# after its last save, and a customer's later messages that window cost no EXPIRE. The
# state, its mark, the turn's effects and its replies go in one HSET; a HSET that created
# every field (the state expired during the turn) writes the mark and runs the EXPIRE too.
# The replies are kept in the customer's own hash, under the lock the turn holds until its
# release deletes them (sent): a state with ``out`` and no holder is a cut turn's, whose
# replies the next lease re-sends (``bots.kept``), so a crash after the save re-sends them,
# and one before it leaves the turn to run again with nothing sent.
# With the marks known (``Marks``) the state is not read: the lock check alone proves that
# nobody wrote it since the caller read it, as every writer of a state holds the customer's
# lock (``storage.save``, ``States.save``'s callers) or deletes the lock with it in one DEL
# (``Store.forget``, ``Merger``, ``States.delete``).
# The lock holds the token, marked or not (``storage.lock_scripts``: pushes since the lease).
# Returns {new version, 0} or {-1, 0} lock lost, {-2, stored version} version conflict.
SAVE_LUA = HOLDS + """
if not holds(redis.call('GET', KEYS[2]), ARGV[1]) then return {-1, 0} end
local v, stored = tonumber(ARGV[2]), ARGV[6]
if stored == '?' then
  local s = redis.call('HMGET', KEYS[1], 'v', 'x')
  local found = tonumber(s[1] or '0')
  if found ~= v then return {-2, found} end
  stored = s[2]
end
v = v + 1
local f = {'v', v, 'd', ARGV[3]}
local expiring = tonumber(ARGV[4]) > 0
local refresh = expiring and stored ~= ARGV[5]
if refresh then f[5] = 'x'; f[6] = ARGV[5] end
if ARGV[9] ~= '' and ARGV[9] ~= '-' then f[#f + 1] = 'fx'; f[#f + 1] = ARGV[9] end
if ARGV[10] ~= '' then f[#f + 1] = 'out'; f[#f + 1] = ARGV[10] end
if redis.call('HSET', KEYS[1], unpack(f)) == #f / 2 and expiring and not refresh then
  redis.call('HSET', KEYS[1], 'x', ARGV[5])
  refresh = true
end
if ARGV[9] == '' then redis.call('HDEL', KEYS[1], 'fx') end
if refresh then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
if ARGV[8] ~= '0' then redis.call('PEXPIRE', KEYS[2], ARGV[8]) end
if ARGV[7] ~= '' then redis.call('XDEL', KEYS[3], ARGV[7]) end
local c = 11
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
if #ARGV > h then
  redis.call('XADD', KEYS[4], unpack(ARGV, h + 1))
  if ARGV[h] ~= '' then redis.call('XTRIM', KEYS[4], 'MINID', ARGV[h]) end
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


@dataclass(frozen=True, slots=True)
class Marks:
    """A save's refresh marks (``refresh_mark``), given by a caller that has held the lock
    since it read the state: ``stored``, the mark the state holds (read with the lock,
    ``storage.locks.Snapshot.mark``, or the ``now`` of the caller's own last save; None: no
    state or no mark), and ``now``, this save's (``States.mark``). With them the save neither
    reads the state nor checks its version (see ``SAVE_LUA``)."""

    stored: str | None
    now: str


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
    replies: str = ""  # the turn's replies kept in the state (``storage.kept.encode``)
    counts: Counts | None = None  # the funnel's, outside a cluster (``storage.funnel``)
    reached: Reached | None = None  # the steps the turn entered (``storage.reached``)
    renew: bool = True  # renew the lock for its ttl (False: its holder knows it is fresh)
    writes: Writes | None = None  # profile fields and tags the turn stores with its state
    marks: Marks | None = None  # None: the save reads the state's version and mark


@dataclass(slots=True)
class Save(Script):
    """The save in the customer's slot alone."""

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
    stored: str  # the mark the state holds (``Marks.stored``; "" none), or "?" unknown
    inbox_id: str
    lock_ms: int
    effects: str
    replies: str  # the turn's replies kept in the state, or ""
    rest: Spread  # the profile writes, the funnel's 0, the steps reached, the history entry

    @classmethod
    def example(cls, keys: Keys) -> Self:
        record = Record(data="{}", version=0, ttl=0, inbox_id="1-0", history=("", "*", "t", "x"))
        call = save_call(keys, Lock("c1", "p.token", 30.0), record)
        if not isinstance(call, cls):
            raise TypeError("save_call without counts builds a Save")
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
    stored: str  # the mark the state holds (``Marks.stored``; "" none), or "?" unknown
    inbox_id: str
    lock_ms: int
    effects: str
    replies: str  # the turn's replies kept in the state, or ""
    rest: Spread

    @classmethod
    def example(cls, keys: Keys) -> Self:
        record = Record(data="{}", version=0, ttl=0, counts=_EXAMPLE_COUNTS,
                        replies='[["1-a-b-o3",{}]]')
        call = save_call(keys, Lock("c1", "p.token", 30.0), record)
        if not isinstance(call, cls):
            raise TypeError("save_call with counts builds a SaveCounted")
        return call


def _marks(record: Record) -> tuple[str, str]:
    """This save's refresh mark and the stored one ("?": unknown, the script reads it)."""
    marks = record.marks
    if marks is None:
        return (refresh_mark(record.ttl, time.time()) if record.ttl > 0 else ""), "?"
    return marks.now, marks.stored or ""


def save_call(keys: Keys, lock: Lock, record: Record) -> Save | SaveCounted:
    """The call of ``SAVE_LUA`` for ``record``; with the funnel's counter when it counts."""
    c = lock.customer
    effects = "-" if record.effects is None else record.effects
    mark, stored = _marks(record)
    lock_ms = lock.ttl_ms if record.renew else 0
    rest: list[Arg] = list(record.writes.args() if record.writes else _NO_WRITES)
    counts = record.counts
    rest += [len(counts.pairs), FUNNEL_TTL, *counts.args()] if counts else [0]
    rest += record.reached.args() if record.reached else [0]
    rest += record.history
    k, inbox_id = keys, record.inbox_id or ""
    if counts is not None:
        return SaveCounted(k.state(c), k.lock(c), k.inbox(c), k.history(c), k.reached(c),
                           k.profile(c), k.tags(c), counts.key(k), lock.token,
                           record.version, record.data, record.ttl, mark, stored,
                           inbox_id, lock_ms, effects, record.replies, rest)
    return Save(k.state(c), k.lock(c), k.inbox(c), k.history(c), k.reached(c), k.profile(c),
                k.tags(c), lock.token, record.version, record.data, record.ttl, mark,
                stored, inbox_id, lock_ms, effects, record.replies, rest)
