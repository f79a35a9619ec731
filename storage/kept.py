"""A turn's replies kept in its customer's state until sent (issue 17: no outbox entry each).

The turn's save writes its replies into the state hash's field ``out`` (``encode``: a JSON list
of ``[id, entry]``, the ids and entries an outbox entry would have had, so VK's ``random_id``
and MAX's read-back keep their keys), and its release deletes the field once the lock proves
the turn's (``storage.lock_scripts``). The lock is the lease: a state with ``out`` and no
holder is a cut turn's, whose replies the next lease reads (``storage.locks.Lease.replies``)
and re-sends first (``bots.kept``), before anything the customer wrote since. A MAX post is
marked beside them (``p:<id>``) while the lock holds the poster's token (``PostingKept``), so
the next lessee's read of the marks is final. A reply a platform refused for now moves to the
outbox, whose sweep retries it (``move``). Desk answers, broadcasts and reminders keep the
outbox. This module must not send anything.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from storage.client import RedisClient
from storage.codec import loads, text
from storage.errors import LockLost, guarded
from storage.keys import Keys
from storage.lock_scripts import AckKept, Lock, PostingKept
from storage.outbox import Outbox, OutboxEntry, Prepared, encode_entry, entry_of
from storage.outbox_scripts import Put
from storage.scripts import runner

OUT = "out"  # the state's field of the turn's kept replies
MARK = "p:"  # a kept reply's post mark in the state: ``p:<id>`` (epoch ms)


def encode(entries: Sequence[Prepared]) -> str:
    """``out``'s value for a turn's prepared replies; "" for none (the save leaves ``out``)."""
    if not entries:
        return ""
    return "[" + ",".join(f'["{entry.id}",{entry.json}]' for entry in entries) + "]"


def decode(raw: str) -> list[OutboxEntry]:
    """The entries of ``out``, in order."""
    return [entry_of(str(entry_id), data) for entry_id, data in loads(raw)]


def gone(ids: Sequence[str]) -> list[str]:
    """The state's fields a release deletes for kept replies ``ids``: ``out`` and marks."""
    return [OUT, *(MARK + entry_id for entry_id in ids)] if ids else []


class Kept:
    """Kept replies' marks, acknowledgements apart from the release, and moves to the outbox."""

    def __init__(self, redis: RedisClient, keys: Keys, outbox: Outbox) -> None:
        self._redis = redis
        self._keys = keys
        self._outbox = outbox
        self._posting = runner(redis, PostingKept, hot=True)
        self._ack = runner(redis, AckKept)
        self._holders: dict[str, Lock] = {}  # kept replies being sent here -> their lock

    def expect(self, entry_id: str, lock: Lock) -> None:
        """``entry_id`` is a kept reply about to be sent under ``lock``: its posts are marked
        in the state (``posting``) until ``done``."""
        self._holders[entry_id] = lock

    def done(self, entry_id: str) -> None:
        self._holders.pop(entry_id, None)

    def holds(self, entry_id: str) -> bool:
        return entry_id in self._holders

    @guarded
    async def posting(self, entry_id: str) -> None:
        """Mark that kept reply ``entry_id`` is being posted now; ``LockLost`` (the post must
        not go out) when the lock is no longer its sender's."""
        lock = self._holders[entry_id]
        ms = int(time.time() * 1000)
        if not await self._posting(PostingKept.of(self._keys, lock, entry_id, ms)):
            raise LockLost(f"customer {lock.customer}: lock lost before a post of {entry_id}")

    @guarded
    async def marks(self, customer: str, ids: Sequence[str]) -> dict[str, float]:
        """When each of ``ids`` was last about to be posted (epoch s), those marked; read
        under the customer's lock, final (``PostingKept``)."""
        if not ids:
            return {}
        found = await self._redis.hmget(self._keys.state(customer), [MARK + i for i in ids])
        return {i: int(text(ms)) / 1000 for i, ms in zip(ids, found, strict=True) if ms}

    def ack_to(self, pipe: object, customer: str, ids: Sequence[str]) -> None:
        """Queue the acknowledgement of sent kept replies ``ids`` (``AckKept``)."""
        AckKept.of(self._keys, customer, ids).queue(pipe)

    @guarded
    async def ack(self, customer: str, ids: Sequence[str]) -> None:
        """Forget kept replies ``ids`` (a failed turn's, replaced by an apology)."""
        if ids:
            await self._ack(AckKept.of(self._keys, customer, ids))

    @guarded
    async def move(self, customer: str, entries: Sequence[Prepared]) -> None:
        """A platform refused kept replies for now: into the outbox (same ids, their post
        marks with them), whose sweep re-sends them; out of the state (the holder's lock)."""
        marks = await self.marks(customer, [entry.id for entry in entries])
        pipe = self._redis.pipeline(transaction=False)
        for entry in entries:
            keys = self._outbox.keys_of(entry.id)
            Put.of(keys, entry.id, entry.json).queue(pipe)
            if entry.id in marks:
                pipe.hset(keys.data, MARK + entry.id, int(marks[entry.id] * 1000))
        pipe.hdel(self._keys.state(customer), *gone([entry.id for entry in entries]))
        await pipe.execute()

    @guarded
    async def hand_on(self, customer: str, keep: str) -> int:
        """``customer`` is merged into ``keep`` (``storage.merge``): a cut turn's replies it
        still keeps move to the outbox as ``keep``'s (same ids, their marks with them), whose
        sweep sends them, instead of going with its state; how many."""
        raw = await self._redis.hget(self._keys.state(customer), OUT)
        if raw is None:
            return 0
        entries = [replace(entry, customer=keep) for entry in decode(text(raw))]
        await self.move(customer, [Prepared(entry.id, encode_entry(entry)) for entry in entries])
        return len(entries)
