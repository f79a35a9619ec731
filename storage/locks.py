"""The per-customer lock and the lease: the lock taken with what was read in the same step.

A lock is a random token with an expiry, released only by its holder (compare-and-delete).
Taking it (``Locks.lease``) also reads the customer's state, pending inbox and the effects a
turn cut short left (``storage.save``), in one Lua call: the ``Lease`` carries them to the turn,
which passes it along and ends with it (``release_if_idle`` releases only when the inbox is
empty, returning new entries otherwise). ``Intake.take`` returns a lease taken in the same step
as the push. Nothing is cached here between calls; the value is the only carrier.

A lock call whose answer never came (Redis stalled past the deadline, then ran it) leaves a
lock whose token only this process knows: ``Orphans.add`` keeps the token, and ``lease`` takes
such a lock over at once instead of waiting out its expiry.

This module must not read or write the state's content; ``storage.state`` does.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from flows.backoff import backoff_delay
from storage.bounded import put_bounded
from storage.client import RedisClient
from storage.codec import text
from storage.errors import OPERATION_TIMEOUT, LockTimeout, guarded, guarded_slow, unanswered
from storage.inbox import Rows, raw_rows
from storage.keyparts import OutboxKeys
from storage.keys import LOCK_TTL, LOCK_WAIT, Keys
from storage.scripts import Arg, CompareAndDelete, CompareAndExpire, Key, Script, Spread, runner


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


# (Each script below is called only through its dataclass: ``storage.scripts``.)
_ACQUIRE_LUA = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local holder, ours = redis.call('GET', KEYS[1]), false
  for i = 3, #ARGV do
    if ARGV[i] == holder then ours = true; break end
  end
  if not ours then return false end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local s = redis.call('HMGET', KEYS[2], 'v', 'd', 'fx')
return {s[1], s[2], redis.call('XRANGE', KEYS[3], '-', '+'), s[3]}
"""

# The release rule: KEYS[1] the lock, KEYS[2] the inbox, KEYS[#KEYS] the state; ARGV[1] the
# token, ARGV[2] "1" when the state holds a turn's effects ("0": the holder knows it holds
# none, and the HDEL is saved), ARGV[3] the lock's ttl in ms. Release when the inbox is empty
# ({}), forgetting the last turn's effects (they ran); otherwise keep the lock and return the
# pending rows. 0 when the lock is no longer ours.
# An empty inbox (the steady path) is checked first, then the lock taken and compared in one
# GETDEL (was GET + DEL): a lock that is not ours is put back at once, in the same atomic
# step (nobody sees it gone), with the full ttl — a little longer than it had left, never
# shorter, so it stays exclusive.
_RELEASE_IF_IDLE_LUA = """
local rows = redis.call('XRANGE', KEYS[2], '-', '+')
if #rows > 0 then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  return rows
end
local held = redis.call('GETDEL', KEYS[1])
if held ~= ARGV[1] then
  if held then redis.call('SET', KEYS[1], held, 'PX', ARGV[3]) end
  return 0
end
if ARGV[2] ~= '0' then redis.call('HDEL', KEYS[#KEYS], 'fx') end
return rows
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
    cut short}, or false when another holds the lock."""

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

    LUA: ClassVar[str] = _RELEASE_IF_IDLE_LUA
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

    LUA: ClassVar[str] = _ACK_REPLIES_LUA + _RELEASE_IF_IDLE_LUA
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


_POLL_MIN = 0.002
_POLL_MAX = 0.05
_POLL_SPREAD = (0.5, 1.5)  # a poll waits 0.5-1.5 times its doubling pause
ORPHANS_KEPT = 10_000  # customers with lock calls whose answer never came, kept per process
# Tokens kept per customer: while Redis is away every retry of the platform fails unanswered
# too; the holder is most likely among the oldest (taken before), or the newest (a stall).
ORPHAN_TOKENS = 16


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state record as read with the lock, still encoded (``States.load`` decodes it)."""

    version: object
    data: object


@dataclass(frozen=True, slots=True)
class Lease:
    """A taken lock and what was read with it: the state, the pending inbox rows (decode
    with ``Inbox.decode``) and the effects a turn cut short left with its state (to run
    again before anything else), or None."""

    lock: Lock
    snapshot: Snapshot
    rows: Rows
    effects: str | None

    @classmethod
    def read(cls, lock: Lock, found: Sequence[object]) -> Lease:
        """From a lock script's reply: ``[version, data, inbox rows, effects]``."""
        left = found[3] if len(found) > 3 else None
        return cls(lock, Snapshot(found[0], found[1]), raw_rows(found[2]),
                   text(left) if left else None)  # type: ignore[arg-type]


def idle_rows(reply: object) -> Rows | None:
    """The reply of ``ReleaseIfIdle``: the pending rows, None once released, or ``[]`` when
    the lock was no longer ours (nothing released: its new holder, if any, has the inbox)."""
    if not isinstance(reply, list):
        return []
    return raw_rows(reply) or None


class Orphans:
    """Tokens of lock calls whose answer never came, per customer (bounded)."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, ...]] = {}

    def add(self, customer: str, token: str) -> None:
        """A call that may have taken ``customer``'s lock with ``token`` got no answer (a
        stalled Redis: the deadline passed, yet the script may run when the stall ends). The
        next ``Locks.lease`` here takes such a lock over at once instead of waiting for it to
        expire, and ``has`` lets a platform's retry of that message (a repeat) still get the
        customer processed. Several are kept (``ORPHAN_TOKENS``): only the lock's real holder
        can be taken over."""
        tokens = (*self._tokens.get(customer, ()), token)
        if len(tokens) > ORPHAN_TOKENS:
            half = ORPHAN_TOKENS // 2
            tokens = tokens[:half] + tokens[-half:]
        put_bounded(self._tokens, customer, tokens, ORPHANS_KEPT)

    def of(self, customer: str) -> tuple[str, ...]:
        return self._tokens.get(customer, ())

    def has(self, customer: str) -> bool:
        return customer in self._tokens

    def forget(self, customer: str) -> None:
        self._tokens.pop(customer, None)


class Locks:
    """Customer locks and the leases taken with them."""

    def __init__(self, redis: RedisClient, keys: Keys, *, instance: str,
                 lock_ttl: float = LOCK_TTL, lock_wait: float = LOCK_WAIT) -> None:
        self._redis = redis
        self._keys = keys
        # Every lock token starts with this process's name (storage.instance): at start, a
        # process that took over a dead one's name frees its locks (``storage.takeover``).
        self.token_prefix = f"{instance}."
        self.lock_ttl = lock_ttl
        self.lock_wait = lock_wait
        self.orphans = Orphans()
        self._acquire = runner(redis, Acquire)
        self._release = runner(redis, CompareAndDelete)
        self._extend = runner(redis, CompareAndExpire)
        self._release_if_idle = runner(redis, ReleaseIfIdle)
        self._release_acked = runner(redis, ReleaseAcked, hot=True)

    @asynccontextmanager
    async def lock(
        self, customer: str, *, ttl: float | None = None, wait: float | None = None
    ) -> AsyncIterator[Lock]:
        """Hold the customer's lock for the block; ``LockTimeout`` if not had within ``wait``."""
        held = await self.acquire(customer, ttl=ttl, wait=wait)
        try:
            yield held
        finally:
            await self.release(held)

    async def acquire(
        self, customer: str, *, ttl: float | None = None, wait: float | None = None
    ) -> Lock:
        """``lease`` for a caller that needs only the lock."""
        return (await self.lease(customer, ttl=ttl, wait=wait)).lock

    @guarded_slow
    async def lease(
        self, customer: str, *, ttl: float | None = None, wait: float | None = None,
        handed: Callable[[], Lease | None] | None = None,
    ) -> Lease:
        """Take the customer's lock, polling up to ``wait``; ``handed`` is asked between polls
        for a lease this process took meanwhile (an accept's ``Intake.take``)."""
        wait = self.lock_wait if wait is None else wait
        held = Lock(customer, self.new_token(), self.lock_ttl if ttl is None else ttl)
        orphans = self.orphans.of(customer)
        call = Acquire.of(self._keys, held, orphans)
        deadline = time.monotonic() + wait
        polls = 0
        async with asyncio.timeout(wait + OPERATION_TIMEOUT):  # a hung Redis: unavailable
            while not (found := await self._call_acquire(held, call)):
                if handed is not None and (adopted := handed()) is not None:
                    return adopted
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"customer {customer}: lock not had within {wait:.1f} s")
                await asyncio.sleep(backoff_delay(polls, base=_POLL_MIN, cap=_POLL_MAX,
                                                  spread=_POLL_SPREAD))
                polls += 1
        if orphans:
            self.orphans.forget(customer)
        return Lease.read(held, found)

    async def _call_acquire(self, held: Lock, call: Acquire) -> Any:
        try:
            return await self._acquire(call)
        except BaseException as exc:
            if unanswered(exc):
                self.orphans.add(held.customer, held.token)
            raise

    def new_token(self) -> str:
        """A fresh lock token, named after this process."""
        return self.token_prefix + secrets.token_hex(12)

    @guarded
    async def release(self, held: Lock) -> bool:
        """Release if still ours; False when it had expired (or was taken over)."""
        done = await self._release(self._compare_and_delete(held))
        return bool(done)

    @guarded
    async def release_if_idle(self, held: Lock) -> Rows | None:
        """Release when the customer's inbox is empty (None); otherwise keep the lock and
        return the pending rows (decode with ``Inbox.decode``). ``[]`` when the lock was no
        longer ours: its new holder processes the inbox."""
        reply = await self._release_if_idle(ReleaseIfIdle.of(self._keys, held))
        return idle_rows(reply)

    async def release_acked(self, held: Lock, acked: Sequence[tuple[str, Sequence[Arg]]],
                            outbox: OutboxKeys, *, effects: bool = True,
                            claimed: bool = True) -> Rows | None:
        """Acknowledge and record delivered replies (``ReleaseAcked``), then
        ``release_if_idle``, in one script: outside a cluster only (the outbox's slot).

        Not guarded here: its caller, ``Store.release_if_idle`` (one round trip per message),
        already maps Redis errors and keeps the deadline; a second guard would only add a
        second ``asyncio.timeout`` to every message."""
        reply = await self._release_acked(ReleaseAcked.of(self._keys, held, acked, outbox,
                                                          effects=effects, claimed=claimed))
        return idle_rows(reply)

    # The same lock scripts queued on a caller's plain pipeline, so they share its round trip.

    def release_if_idle_to(self, pipe: Any, held: Lock, *, effects: bool = True) -> None:
        """``release_if_idle`` on ``pipe``; read its reply with ``idle_rows``. ``effects``:
        False when the holder knows the state holds no turn's effects (one HDEL fewer)."""
        ReleaseIfIdle.of(self._keys, held, effects=effects).queue(pipe)

    def release_to(self, pipe: Any, held: Lock) -> None:
        self._compare_and_delete(held).queue(pipe)

    def extend_to(self, pipe: Any, held: Lock) -> None:
        self._compare_and_expire(held, held.ttl_ms).queue(pipe)

    @guarded
    async def extend(self, held: Lock, ttl: float | None = None) -> bool:
        ms = held.ttl_ms if ttl is None else max(1, int(ttl * 1000))
        return bool(await self._extend(self._compare_and_expire(held, ms)))

    def _compare_and_delete(self, held: Lock) -> CompareAndDelete:
        return CompareAndDelete(self._keys.lock(held.customer), held.token)

    def _compare_and_expire(self, held: Lock, ms: int) -> CompareAndExpire:
        return CompareAndExpire(self._keys.lock(held.customer), held.token, ms)
