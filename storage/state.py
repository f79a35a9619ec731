"""Dialogue state per customer: a versioned JSON document, stored under the customer's lock.

Protocol: ``lease = await states.locks.lease(c)`` (or ``Intake.take``) → ``load(c,
snapshot=lease.snapshot)`` → engine → ``save(c, st, version=v, lock=lease.lock,
inbox_id=...)``. The lease read the state with the lock (``storage.locks``), so the first load
of a turn costs no round trip; later loads read. The save is one Lua script
(``storage.save``) that checks the lock token (and, unless the caller passes the refresh marks
it knows, the version), so a holder whose lock expired can never overwrite newer state; it
also marks the inbox entry processed, appends the turn's history entry, renews the lock and
keeps the turn's replies in the state (``replies=``, ``storage.kept``) until its release.
A message thus costs three round trips: accept (with the lock), save, release; every key in
the customer's Redis Cluster slot. (Older versions wrote a cluster's turn replies to the
outbox before the save, with a note ``u:<lock token>`` in the state hash that the save
deleted; ``never_saved`` still reads such notes a process of theirs left.)

This module must not run the engine or read events; it only stores what it is given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError

from flows.types import DialogState
from storage.client import RedisClient, scripts_span_slots
from storage.codec import text
from storage.errors import CodecError, LockLost, StorageError, VersionConflict, guarded
from storage.funnel import Count, Counts
from storage.history import History, HistoryEntry
from storage.kept import encode
from storage.keys import LOCK_TTL, LOCK_WAIT, STATE_TTL, Keys
from storage.locks import Lease, Lock, Locks, Snapshot
from storage.outbox import Outbox, OutboxEntry, Prepared
from storage.reached import Reached
from storage.save import (
    LOCK_LOST,
    VERSION_CONFLICT,
    Marks,
    Record,
    Save,
    SaveCounted,
    Writes,
    refresh_mark,
    save_call,
)
from storage.scripts import runner
from storage.takeover import LockBreaker

__all__ = ["Lease", "Lock", "Snapshot", "States"]

log = logging.getLogger("svyaz.storage")

UNSAVED = "u:"  # the state hash's note of outbox entries written before a save: u:<token>


class States:
    """Versioned dialogue states; ``locks`` holds the customer locks, ``breaker`` frees the
    locks of a process that died."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
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
        self._history = history
        self._outbox = outbox
        # One script may write the customer's slot and the outbox's only outside a cluster.
        self._joint = scripts_span_slots(redis)
        self.state_ttl = state_ttl
        self.locks = Locks(redis, keys, instance=instance, lock_ttl=lock_ttl,
                           lock_wait=lock_wait)
        self.breaker = LockBreaker(redis, keys, token_prefix=self.locks.token_prefix)
        self._save = runner(redis, Save, hot=True)
        self._save_counted = runner(redis, SaveCounted, hot=True)
        self._count = runner(redis, Count)  # on a cluster: the counts after the save

    @asynccontextmanager
    async def lock(
        self, customer: str, *, ttl: float | None = None, wait: float | None = None
    ) -> AsyncIterator[Lock]:
        """``Locks.lock``: hold the customer's lock for the block."""
        async with self.locks.lock(customer, ttl=ttl, wait=wait) as held:
            yield held

    async def load(
        self, customer: str, *, snapshot: Snapshot | None = None
    ) -> tuple[DialogState | None, int]:
        """The stored state and its version (``(None, 0)`` when there is none): decoded from
        ``snapshot`` (read with the lock: no round trip, so no deadline to keep) or read now."""
        if snapshot is None:
            version, data = await self._read(customer)
        else:
            version, data = snapshot.version, snapshot.data
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
        replies: Sequence[Prepared] = (),
        effects: str | None = None,
        counts: Counts | None = None,
        reached: Reached | None = None,
        renew: bool = True,
        writes: Writes | None = None,
        marks: Marks | None = None,
    ) -> int:
        """Store ``state`` if ``version`` is current and ``lock`` still held; new version.

        In the same step: the inbox entry ``inbox_id`` is marked done, ``history`` appended,
        the lock renewed for its ttl (unless ``renew`` is False: a fresh lock,
        ``bots.held.Held.stale``), ``writes`` stored (``storage.save.Writes``) and the
        turn's ``replies`` kept in the state (``storage.kept``), so a crash after the save
        re-sends them, never loses them. ``effects`` (``storage.codec.encode_effects``; ""
        for none) replaces the stored effects of the last turn (None leaves them).
        ``counts``: the funnel's day, outside a cluster; ``reached``: the customer's steps
        reached; ``marks``: the state is not read again, nor its version checked."""
        if lock.customer != customer:
            raise LockLost(f"lock is for customer {lock.customer}, not {customer}")
        record = self._record(state, version, inbox_id, history, effects)
        record.counts, record.reached = (counts if self._joint else None), reached
        record.renew, record.writes, record.marks = renew, writes, marks
        record.replies = encode(replies)
        call = save_call(self._keys, lock, record)
        reply = await (self._save(call) if isinstance(call, Save) else self._save_counted(call))
        new_version = _checked(customer, version, reply)
        await self._after(counts)
        return new_version  # an emptied inbox leaves the pending set lazily (Inbox docstring)

    @guarded
    async def never_saved(self, entries: Sequence[OutboxEntry]) -> set[str]:
        """Of one customer's ``entries`` (a re-send's), those a turn wrote before a save that
        never happened (``_before``): they and the rest of their turn's are dropped from the
        outbox, the note with them. Their turn runs again (its inbox entry is still pending)
        and answers anew; re-sent, they would come twice."""
        if not entries or self._outbox is None:
            return set()
        state = self._keys.state(entries[0].customer)
        ids = {entry.id for entry in entries}
        notes = {text(field): text(found).split()
                 for field, found in (await self._redis.hgetall(state)).items()
                 if text(field).startswith(UNSAVED)}
        cut = {field: found for field, found in notes.items() if ids.intersection(found)}
        dropped = {entry for found in cut.values() for entry in found}
        for entry_id in dropped:
            await self._outbox.ack(entry_id)
        if cut:
            await self._redis.hdel(state, *cut)
            log.info("dropped %d unsent replies of %s: their turn was never saved and runs "
                     "again", len(dropped), entries[0].customer)
        return dropped

    async def _after(self, counts: Counts | None) -> None:
        """A cluster's funnel counts (not in the customer's slot): after the save, which
        they count."""
        if counts is not None and not self._joint:
            await self._count(Count.of(self._keys, counts))

    def _record(self, state: DialogState, version: int, inbox_id: str | None,
                history: HistoryEntry | None, effects: str | None) -> Record:
        if history is not None and self._history is None:
            raise StorageError("States.save(history=...) needs the Store facade")
        return Record(
            data=state.model_dump_json(by_alias=True, exclude_defaults=True),
            version=version, ttl=self.state_ttl, inbox_id=inbox_id, effects=effects,
            history=() if history is None or self._history is None
            else self._history.script_args(history),
        )

    def mark(self) -> str:
        """The refresh mark of a save now (``storage.save.Marks.now``)."""
        return refresh_mark(self.state_ttl, time.time()) if self.state_ttl > 0 else ""

    @guarded
    async def delete(self, customer: str) -> None:
        """The state, and its lock in the same step: a holder's save then finds the lock gone
        (``LockLost``) rather than writing over a state it no longer checks."""
        await self._redis.delete(self._keys.state(customer), self._keys.lock(customer))


def _checked(customer: str, version: int, reply: Any) -> int:
    """The save script's new version; its refusals raised."""
    new_version, left = (int(x) for x in reply)
    if new_version == LOCK_LOST:
        raise LockLost(f"customer {customer}: lock expired or taken over before save")
    if new_version == VERSION_CONFLICT:
        raise VersionConflict(f"customer {customer}: version {left} stored, {version} loaded")
    return new_version
