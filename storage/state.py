"""Dialogue state per customer: a versioned JSON document and a per-customer lock.

Protocol: ``async with states.lock(c) as lk`` → ``load(c)`` → engine → ``save(c, st,
version=v, lock=lk, inbox_id=...)``. The save is one Lua script that checks both the lock token
and the version, so a holder whose lock expired can never overwrite newer state; it also marks
the inbox entry processed, appends the turn's history entry and renews the lock in the same
step. The lock is a random token with an expiry, released only by its holder
(compare-and-delete). Taking the lock also reads the state and the pending inbox in the same
Lua call (the next ``load``/``Inbox.pending`` of that customer use them) — ``acquire`` does it,
or ``Intake.accept(take=True)`` in the same step as the push (``adopt``/``taken``) — and
``release_if_idle`` releases only when the inbox is empty, returning new entries otherwise. The
save can also write the turn's outbox entries (``outbox=``). A message thus costs three round
trips: accept (with the lock), save, release; every key in the customer's Redis Cluster slot
except the outbox's, which a cluster writes separately.

A lock call whose answer never came (Redis stalled past the deadline, then ran it) leaves a
lock whose token only this process knows: ``orphaned`` keeps the token, and ``acquire`` takes
such a lock over at once instead of waiting out its expiry.

This module must not run the engine or read events; it only stores what it is given.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from flows.types import DialogState
from storage.bounded import put_bounded
from storage.client import RedisClient, hot_script, scripts_span_slots
from storage.codec import text
from storage.errors import (
    OPERATION_TIMEOUT,
    CodecError,
    LockLost,
    LockTimeout,
    StorageError,
    VersionConflict,
    guarded,
    guarded_slow,
    unanswered,
)
from storage.history import History, HistoryEntry
from storage.inbox import Inbox, raw_rows
from storage.keys import LOCK_TTL, LOCK_WAIT, STATE_TTL, Keys
from storage.outbox import Outbox, Prepared

# KEYS: state, lock, inbox, history, then (with outbox entries) outbox data and lease.
# ARGV: token, expected version, json, ttl seconds, inbox id or "", lock ttl ms, the turn's
# effects ("-": leave those stored, "": none), the number n of outbox entries then n pairs
# (id, json), then (optional) a history entry: a MINID to trim to or "", then XADD arguments
# after the key (trim options, "*", field, value, ...).
# Returns {new version, 0} or {-1, 0} lock lost, {-2, stored version} version conflict.
SAVE_LUA = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {-1, 0} end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[2]) then return {-2, v} end
v = v + 1
redis.call('HSET', KEYS[1], 'v', v, 'd', ARGV[3])
if ARGV[7] == '' then redis.call('HDEL', KEYS[1], 'fx')
elseif ARGV[7] ~= '-' then redis.call('HSET', KEYS[1], 'fx', ARGV[7]) end
if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
redis.call('PEXPIRE', KEYS[2], ARGV[6])
if ARGV[5] ~= '' then redis.call('XDEL', KEYS[3], ARGV[5]) end
local n = tonumber(ARGV[8])
if n > 0 then
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  for i = 9, 7 + 2 * n, 2 do
    redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1])
    redis.call('ZADD', KEYS[6], now, ARGV[i])
  end
end
local h = 9 + 2 * n
if #ARGV > h then
  redis.call('XADD', KEYS[4], unpack(ARGV, h + 1))
  if ARGV[h] ~= '' then redis.call('XTRIM', KEYS[4], 'MINID', ARGV[h]) end
end
return {v, 0}
"""

# KEYS: lock, state, inbox. ARGV: token, ttl ms, orphaned token or "". Take the lock (also
# when it is held by the orphaned token: see ``States.orphaned``), read the state and the
# pending inbox in one round trip: {version, data, rows, effects of a turn cut short}.
ACQUIRE_LUA = """
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

# KEYS: lock, inbox, ..., state (the last). ARGV: token. Release when the inbox is empty
# ({}), forgetting the last turn's effects (they ran); otherwise keep the lock and return the
# pending rows. 0 when the lock is no longer ours.
RELEASE_IF_IDLE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local rows = redis.call('XRANGE', KEYS[2], '-', '+')
if #rows == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('HDEL', KEYS[#KEYS], 'fx')
end
return rows
"""

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

EXTEND_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

def idle_rows(reply: object) -> list[tuple[str, dict[str, str]]] | None:
    """The reply of ``RELEASE_IF_IDLE_LUA``: the pending rows, or None once released."""
    return raw_rows(reply) or None if isinstance(reply, list) else None


_POLL_MIN = 0.002
_POLL_MAX = 0.05
ORPHANS_KEPT = 10_000  # customers with lock calls whose answer never came, kept per process
# Tokens kept per customer: while Redis is away every retry of the platform fails unanswered
# too; the holder is most likely among the oldest (taken before), or the newest (a stall).
ORPHAN_TOKENS = 16
BREAK_BATCH = 500  # lock deletions per round trip when taking over at start

# KEYS: lock. ARGV: token prefix. Deletes the lock if its token starts with the prefix.
DEL_IF_PREFIX_LUA = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Lock:
    """A held customer lock: the token proves ownership to ``save``/``release``."""

    customer: str
    token: str
    ttl: float


class States:
    """Versioned dialogue states and customer locks."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        inbox: Inbox,
        *,
        history: History | None = None,
        outbox: Outbox | None = None,
        state_ttl: int = STATE_TTL,
        lock_ttl: float = LOCK_TTL,
        lock_wait: float = LOCK_WAIT,
        instance: str,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._inbox = inbox
        # Every lock token starts with this process's name (storage.instance): at start, a
        # process that took over a dead one's name frees its locks (``break_mine``).
        self._token_prefix = f"{instance}."
        self._history = history
        self._outbox = outbox
        # One script may write the customer's slot and the outbox's only outside a cluster.
        self._joint = scripts_span_slots(redis)
        self.state_ttl = state_ttl
        self.lock_ttl = lock_ttl
        self.lock_wait = lock_wait
        self._save = hot_script(redis, SAVE_LUA)
        self._acquire = redis.register_script(ACQUIRE_LUA)
        # State read while taking a lock, handed to the next load() of that customer. Safe
        # even if the lock is lost meanwhile: save() checks the version and the token.
        self._prefetched: dict[str, tuple[object, object]] = {}
        # The effects a turn cut short left with its state, read with the lock (``effects``).
        self._effects: dict[str, str] = {}
        self._taken: dict[str, Lock] = {}
        self._orphans: dict[str, tuple[str, ...]] = {}
        self._release = redis.register_script(RELEASE_LUA)
        self._extend = redis.register_script(EXTEND_LUA)
        self._release_if_idle = redis.register_script(RELEASE_IF_IDLE_LUA)

    # ------------------------------------------------------------------ lock

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

    @guarded_slow
    async def acquire(
        self, customer: str, *, ttl: float | None = None, wait: float | None = None
    ) -> Lock:
        ttl = self.lock_ttl if ttl is None else ttl
        wait = self.lock_wait if wait is None else wait
        held = Lock(customer=customer, token=self.new_token(), ttl=ttl)
        keys = [self._keys.lock(customer), self._keys.state(customer),
                self._keys.inbox(customer)]
        orphans = self._orphans.get(customer, ())
        args: list[str | int] = [held.token, max(1, int(ttl * 1000)), *orphans]
        deadline = time.monotonic() + wait
        delay = _POLL_MIN
        async with asyncio.timeout(wait + OPERATION_TIMEOUT):  # a hung Redis: unavailable
            while not (found := await self._call_acquire(customer, keys, args)):
                # The holder may be this process: an accept took the lock while we waited.
                if (adopted := self.taken(customer)) is not None:
                    return adopted
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"customer {customer}: lock not had within {wait:.1f} s")
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, _POLL_MAX)
        if orphans:
            self._orphans.pop(customer, None)
        self._prefetched[customer] = (found[0], found[1])
        self._keep_effects(customer, found)
        self._inbox.prefetch(customer, raw_rows(found[2]))
        return held

    async def _call_acquire(self, customer: str, keys: list[str],
                            args: list[str | int]) -> Any:
        try:
            return await self._acquire(keys=keys, args=args)
        except BaseException as exc:
            if unanswered(exc):
                self.orphaned(customer, str(args[0]))
            raise

    def new_token(self) -> str:
        """A fresh lock token, named after this process."""
        return self._token_prefix + secrets.token_hex(12)

    @guarded_slow
    async def break_mine(self) -> list[str]:
        """Delete the customer locks whose token carries this process's name; their
        customers. At start only: they were taken by a process that had the name before and
        died (a live one cannot have it), so their customers need not wait for the locks to
        expire."""
        return await self._break(lambda pipe, key: pipe.eval(
            DEL_IF_PREFIX_LUA, 1, key, self._token_prefix))

    @guarded_slow
    async def break_all(self) -> list[str]:
        """Delete every customer lock of this bot; their customers. Only for a Redis that no
        other process can reach (the embedded one, at start): their holders are gone, and
        waiting for the locks to expire would keep those customers waiting for nothing."""
        return await self._break(lambda pipe, key: pipe.delete(key))

    async def _break(self, queue: Callable[[Any, Any], object]) -> list[str]:
        broken: list[str] = []
        pipe = self._redis.pipeline(transaction=False)
        keys: list[Any] = []

        async def run() -> None:
            for key, gone in zip(keys, await pipe.execute(), strict=True):
                if gone and (customer := self._keys.customer_of_key(text(key))):
                    broken.append(customer)
            keys.clear()

        async for key in self._redis.scan_iter(match=self._keys.lock_pattern, count=1000):
            queue(pipe, key)
            keys.append(key)
            if len(keys) >= BREAK_BATCH:  # one round trip per batch, not per lock
                await run()
        if keys:
            await run()
        return broken

    def orphaned(self, customer: str, token: str) -> None:
        """A call that may have taken ``customer``'s lock with ``token`` got no answer (a
        stalled Redis: the deadline passed, yet the script may run when the stall ends). The
        next ``acquire`` here takes such a lock over at once instead of waiting for it to
        expire, and ``has_orphan`` lets a platform's retry of that message (a repeat) still
        get the customer processed. Several are kept (``ORPHAN_TOKENS``): only the lock's
        real holder can be taken over."""
        tokens = (*self._orphans.get(customer, ()), token)
        if len(tokens) > ORPHAN_TOKENS:
            half = ORPHAN_TOKENS // 2
            tokens = tokens[:half] + tokens[-half:]
        put_bounded(self._orphans, customer, tokens, ORPHANS_KEPT)

    def has_orphan(self, customer: str) -> bool:
        return customer in self._orphans

    @property
    def lock_ttl_ms(self) -> int:
        return max(1, int(self.lock_ttl * 1000))

    def adopt(self, customer: str, token: str, found: list[object]) -> None:
        """A lock another script of the customer's slot took (``Intake.accept(take=True)``),
        with what it read — ``[version, data, inbox rows]`` like ``acquire`` — kept for
        ``taken``."""
        self._taken[customer] = Lock(customer=customer, token=token, ttl=self.lock_ttl)
        self._orphans.pop(customer, None)  # a fresh take: any older token's lock is gone
        self._prefetched[customer] = (found[0], found[1])
        self._keep_effects(customer, found)
        self._inbox.prefetch(customer, raw_rows(found[2]))

    def _keep_effects(self, customer: str, found: list[Any]) -> None:
        left = found[3] if len(found) > 3 else None
        if left:
            self._effects[customer] = text(left)
        else:
            self._effects.pop(customer, None)

    def left_effects(self, customer: str) -> str | None:
        """What ``save(effects=...)`` stored that its turn may not have run: the process died
        between the save and the effects, or before the release forgot them. Read with the
        lock (no round trip); once."""
        return self._effects.pop(customer, None)

    def taken(self, customer: str) -> Lock | None:
        """The lock ``adopt`` registered for ``customer`` (once), or None."""
        return self._taken.pop(customer, None)

    @guarded
    async def release(self, held: Lock) -> bool:
        """Release if still ours; False when it had expired (or was taken over)."""
        self.drop_prefetched(held.customer)
        done = await self._release(keys=[self._keys.lock(held.customer)], args=[held.token])
        return bool(done)

    @guarded
    async def release_if_idle(self, held: Lock) -> list[tuple[str, dict[str, str]]] | None:
        """Release when the customer's inbox is empty (None); otherwise keep the lock and
        return the pending rows (decode with ``Inbox.decode``). None as well when the lock
        was no longer ours: its new holder processes the inbox."""
        self.drop_prefetched(held.customer)
        keys = [self._keys.lock(held.customer), self._keys.inbox(held.customer),
                self._keys.state(held.customer)]
        return idle_rows(await self._release_if_idle(keys=keys, args=[held.token]))

    # The same three lock scripts queued on a caller's plain pipeline (EVAL, not EVALSHA: a
    # pipeline cannot reload a script the server forgot), so they share its round trip.

    def release_if_idle_to(self, pipe: Any, held: Lock) -> None:
        """``release_if_idle`` on ``pipe``; read its reply with ``idle_rows``."""
        self.drop_prefetched(held.customer)
        keys = [self._keys.lock(held.customer), self._keys.inbox(held.customer),
                self._keys.state(held.customer)]
        pipe.eval(RELEASE_IF_IDLE_LUA, len(keys), *keys, held.token)

    def release_to(self, pipe: Any, held: Lock) -> None:
        self.drop_prefetched(held.customer)
        pipe.eval(RELEASE_LUA, 1, self._keys.lock(held.customer), held.token)

    def extend_to(self, pipe: Any, held: Lock) -> None:
        ms = max(1, int(held.ttl * 1000))
        pipe.eval(EXTEND_LUA, 1, self._keys.lock(held.customer), held.token, ms)

    def drop_prefetched(self, customer: str) -> None:
        """Forget what taking the lock read (its holder is saving or releasing)."""
        self._prefetched.pop(customer, None)
        self._inbox.drop_prefetched(customer)

    @guarded
    async def extend(self, held: Lock, ttl: float | None = None) -> bool:
        ms = max(1, int((held.ttl if ttl is None else ttl) * 1000))
        done = await self._extend(keys=[self._keys.lock(held.customer)], args=[held.token, ms])
        return bool(done)

    @guarded
    async def holds(self, held: Lock) -> bool:
        current = await self._redis.get(self._keys.lock(held.customer))
        return current is not None and text(current) == held.token

    # ------------------------------------------------------------------ state

    async def load(self, customer: str) -> tuple[DialogState | None, int]:
        """The stored state and its version (``(None, 0)`` when there is none): as the
        accept read it with the lock (no round trip, so no deadline to keep), or read now."""
        prefetched = self._prefetched.pop(customer, None)
        version: object
        data: object
        if prefetched is None:
            version, data = await self._read(customer)
        else:
            version, data = prefetched
        if not isinstance(version, bytes | str) or not isinstance(data, bytes | str):
            return None, 0
        try:
            return DialogState.model_validate_json(data), int(version)
        except ValidationError as exc:
            raise CodecError(f"customer {customer}: stored state is invalid: {exc}") from exc

    @guarded
    async def _read(self, customer: str) -> list[Any]:
        rows: list[Any] = await self._redis.hmget(self._keys.state(customer), ["v", "d"])
        return rows

    @guarded
    async def save(
        self,
        customer: str,
        state: DialogState,
        *,
        version: int,
        lock: Lock,
        inbox_id: str | None = None,
        history: HistoryEntry | None = None,
        outbox: Sequence[Prepared] = (),
        effects: str | None = None,
    ) -> int:
        """Store ``state`` if ``version`` is current and ``lock`` still held; new version.

        In the same step: the inbox entry ``inbox_id`` is marked done, ``history`` appended
        to the customer's history, the lock renewed for its ttl and the ``outbox`` entries
        (the turn's replies) written — only if the state was, so a crash after the save
        re-sends them rather than losing them. On Redis Cluster the outbox is another slot:
        its entries are written right after the save instead (one more round trip).
        ``effects`` (``storage.codec.encode_effects``; "" for none) replaces the stored
        effects of the customer's last turn, for ``left_effects``; None leaves them.
        """
        self.drop_prefetched(customer)
        if lock.customer != customer:
            raise LockLost(f"lock is for customer {lock.customer}, not {customer}")
        data = state.model_dump_json(by_alias=True, exclude_defaults=True)
        keys = [self._keys.state(customer), self._keys.lock(customer),
                self._keys.inbox(customer), self._keys.history(customer)]
        args: list[str | int | float] = [lock.token, version, data, self.state_ttl,
                                         inbox_id or "", max(1, int(lock.ttl * 1000)),
                                         "-" if effects is None else effects]
        if outbox and self._outbox is None:
            raise StorageError("States.save(outbox=...) needs the Store facade")
        joint = outbox if self._joint else ()
        args.append(len(joint))
        if joint and self._outbox is not None:
            keys += self._outbox.put_keys
            args += [x for entry in joint for x in entry]
        if history is not None:
            if self._history is None:
                raise StorageError("States.save(history=...) needs the Store facade")
            args += self._history.script_args(history)
        new_version, left = (int(x) for x in await self._save(keys=keys, args=args))
        if new_version == -1:
            raise LockLost(f"customer {customer}: lock expired or taken over before save")
        if new_version == -2:
            raise VersionConflict(f"customer {customer}: version {left} stored, {version} loaded")
        if outbox and not joint:
            assert self._outbox is not None
            await self._outbox.put_prepared(outbox)
        return new_version  # an emptied inbox leaves the pending set lazily (Inbox docstring)

    @guarded
    async def delete(self, customer: str) -> None:
        await self._redis.delete(self._keys.state(customer))
