"""The per-customer lock and the lease: the lock taken with what was read in the same step.

A lock is a random token with an expiry, released only by its holder (compare-and-delete).
Taking it (``Locks.lease``) also reads the customer's state, pending inbox and the effects a
turn cut short left (``storage.save``), in one Lua call: the ``Lease`` carries them to the turn,
which passes it along and ends with it (``release_if_idle`` releases only when nothing was
pushed meanwhile, returning new entries otherwise: ``storage.lock_scripts`` on how the lock's
value tells). ``Intake.take`` returns a lease taken in the same step
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
from dataclasses import dataclass
from typing import Any

from flows.backoff import backoff_delay
from storage.bounded import put_bounded
from storage.client import RedisClient
from storage.codec import text
from storage.errors import OPERATION_TIMEOUT, LockTimeout, guarded, guarded_slow, unanswered
from storage.inbox import Rows, raw_rows
from storage.keys import LOCK_TTL, LOCK_WAIT, Keys
from storage.lock_scripts import Acquire, LockDelete, LockExpire, ReleaseIfIdle
from storage.lock_scripts import Lock as Lock
from storage.scripts import Arg, runner

_POLL_MIN = 0.002
_POLL_MAX = 0.05
_POLL_SPREAD = (0.5, 1.5)  # a poll waits 0.5-1.5 times its doubling pause
ORPHANS_KEPT = 10_000  # customers with lock calls whose answer never came, kept per process
# Tokens kept per customer: while Redis is away every retry of the platform fails unanswered
# too; the holder is most likely among the oldest (taken before), or the newest (a stall).
ORPHAN_TOKENS = 16


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state record as read with the lock, still encoded (``States.load`` decodes it),
    and its refresh mark (``storage.save.Marks.stored``)."""

    version: object
    data: object
    mark: str | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """A taken lock and what was read with it: the state, the pending inbox rows (decode
    with ``Inbox.decode``), the effects a turn cut short left with its state (to run
    again before anything else), or None, and the replies it kept in the state (``out``,
    ``storage.kept``: re-sent before anything else), or None."""

    lock: Lock
    snapshot: Snapshot
    rows: Rows
    effects: str | None
    replies: str | None = None

    @classmethod
    def read(cls, lock: Lock, found: Sequence[object]) -> Lease:
        """From a lock script's reply: ``[version, data, inbox rows, effects, mark, out]``."""
        left, mark, out = (*found[3:6], None, None, None)[:3]
        snapshot = Snapshot(found[0], found[1], text(mark) if mark else None)  # type: ignore[arg-type]
        return cls(lock, snapshot, raw_rows(found[2]), text(left) if left else None,  # type: ignore[arg-type]
                   text(out) if out else None)  # type: ignore[arg-type]


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
        self._release = runner(redis, LockDelete)
        self._extend = runner(redis, LockExpire)
        self._release_if_idle = runner(redis, ReleaseIfIdle)
        self._release_acked = runner(redis, ReleaseIfIdle, hot=True)

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
        """Release when nothing was pushed since the lock was taken or last kept (None);
        otherwise keep the lock and return the pending rows (decode with ``Inbox.decode``).
        ``[]`` when the lock was no longer ours: its new holder processes the inbox."""
        reply = await self._release_if_idle(ReleaseIfIdle.of(self._keys, held))
        return idle_rows(reply)

    async def release_acked(self, held: Lock, acked: Sequence[Sequence[Arg]], *,
                            effects: bool = True, gone: Sequence[str] = ()) -> Rows | None:
        """Record the turn's sent replies in the history (``acked``: their XADD arguments),
        delete ``gone`` (the kept replies' fields) once the lock proves ours, then
        ``release_if_idle``, in one script in the customer's slot.

        Not guarded here: its caller, ``Store.release_if_idle`` (one round trip per message),
        already maps Redis errors and keeps the deadline; a second guard would only add a
        second ``asyncio.timeout`` to every message."""
        reply = await self._release_acked(ReleaseIfIdle.of(self._keys, held, effects=effects,
                                                           gone=gone, acked=acked))
        return idle_rows(reply)

    # The same lock scripts queued on a caller's plain pipeline, so they share its round trip.

    def release_if_idle_to(self, pipe: Any, held: Lock, *, effects: bool = True,
                           gone: Sequence[str] = ()) -> None:
        """``release_acked`` without replies on ``pipe``; read its reply with ``idle_rows``.
        ``effects``: False when the holder knows the state holds no turn's effects."""
        ReleaseIfIdle.of(self._keys, held, effects=effects, gone=gone).queue(pipe)

    def release_to(self, pipe: Any, held: Lock) -> None:
        self._compare_and_delete(held).queue(pipe)

    def extend_to(self, pipe: Any, held: Lock) -> None:
        self._compare_and_expire(held, held.ttl_ms).queue(pipe)

    @guarded
    async def extend(self, held: Lock, ttl: float | None = None) -> bool:
        ms = held.ttl_ms if ttl is None else max(1, int(ttl * 1000))
        return bool(await self._extend(self._compare_and_expire(held, ms)))

    def _compare_and_delete(self, held: Lock) -> LockDelete:
        return LockDelete.of(self._keys, held)

    def _compare_and_expire(self, held: Lock, ms: int) -> LockExpire:
        return LockExpire.of(self._keys, held, ms)
