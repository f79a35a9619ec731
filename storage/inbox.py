"""The per-customer inbox: accepted ``Inbound`` events waiting to be processed, in order.

An event is pushed (durable once ``push`` returns) before any processing; the worker that holds
the customer's lock reads ``pending`` in arrival order (stream id order) and marks each one
done — ideally atomically with the state save (``States.save(..., inbox_id=...)``). Processed
entries are deleted, so the stream only ever holds pending work. A global set lists customers
with pending entries for a sweeper after a crash; the hot path only ever adds to it (pipelined
with the push), and ``customers_with_pending`` drops the customers whose inbox has emptied, so
a turn needs no extra round trips to keep the set tidy. Taking a customer's lock reads the inbox
in the same script: the rows travel in the lease (``storage.locks.Lease.rows``; ``decode``).

A push marks the customer's lock when it is held (``storage.lock_scripts``), so the holder's
release knows to read the inbox. This module must not process events or take locks itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar, Self

from flows.types import Inbound
from storage.client import RedisClient
from storage.codec import decode_inbound, encode_inbound, stream_rows, text
from storage.errors import CodecError, guarded
from storage.keys import Keys
from storage.lock_scripts import MARK_IF_HELD
from storage.scripts import Key, Script, runner

log = logging.getLogger("svyaz.storage")

FIELD = "j"

Rows = list[tuple[str, dict[str, str]]]  # stream entries as (entry id, fields), not decoded


@dataclass(slots=True)
class Done(Script):
    """Delete the entry; how many remain. An emptied stream is kept: it remembers its last
    id, so a new entry never reuses the id of a processed one (a re-created stream would
    start again from the clock, and two entries could share an id)."""

    LUA: ClassVar[str] = """
redis.call('XDEL', KEYS[1], ARGV[1])
return redis.call('XLEN', KEYS[1])
"""
    inbox: Key
    entry_id: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.inbox("c1"), "1-0")


@dataclass(slots=True)
class Append(Script):
    """Append an entry to the inbox; its id. A held lock gets a push's mark in the same step
    (``storage.lock_scripts``), so its holder's release reads the inbox."""

    LUA: ClassVar[str] = f"""
local id = redis.call('XADD', KEYS[1], '*', '{FIELD}', ARGV[1])
{MARK_IF_HELD.format(lock="KEYS[2]")}
return id
"""
    inbox: Key
    lock: Key
    inbound: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.inbox("c1"), keys.lock("c1"), "{}")


def raw_rows(rows: object) -> Rows:
    """Stream rows as a Lua script returns them (``[[id, [field, value, ...]], ...]``)."""
    out: Rows = []
    for entry_id, flat in rows or ():  # type: ignore[attr-defined]
        pairs = [text(x) for x in flat]
        out.append((text(entry_id), dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return out


class Inbox:
    """Pending inbound events per customer."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._done = runner(redis, Done)

    @guarded
    async def push(self, customer: str, inbound: Inbound) -> str:
        pipe = self._redis.pipeline(transaction=False)
        Append(self._keys.inbox(customer), self._keys.lock(customer),
               encode_inbound(inbound)).queue(pipe)
        pipe.sadd(self._keys.pending, customer)  # another slot: a plain pipeline, no MULTI
        entry_id, _ = await pipe.execute()
        return text(entry_id)

    async def pending(
        self, customer: str, *, count: int | None = None
    ) -> list[tuple[str, Inbound]]:
        """Unprocessed entries in arrival order, as ``(entry id, inbound)`` (see ``decode``);
        a lease carries those read with the lock."""
        return await self.decode(customer, await self._read(customer, count))

    @guarded
    async def _read(self, customer: str, count: int | None) -> Rows:
        return stream_rows(await self._redis.xrange(self._keys.inbox(customer), count=count))

    async def decode(self, customer: str, rows: Rows) -> list[tuple[str, Inbound]]:
        """``rows`` decoded. An entry that no longer decodes (written by an incompatible
        version) is logged and dropped, so it cannot block the customer's inbox forever."""
        found = []
        for entry_id, fields in rows:
            try:
                found.append((entry_id, decode_inbound(fields.get(FIELD, "{}"))))
            except CodecError as exc:
                log.error("dropping undecodable inbox entry %s of %s: %s", entry_id, customer, exc)
                await self.done(customer, entry_id)
        return found

    @guarded
    async def done(self, customer: str, entry_id: str) -> None:
        remaining = await self._done(Done(self._keys.inbox(customer), entry_id))
        await self.settle(customer, int(remaining))

    async def settle(self, customer: str, remaining: int) -> None:
        """Keep the pending set honest after entries were removed (push may race with us);
        a customer whose state keeps a turn's replies (``storage.kept``) stays."""
        if remaining > 0:
            return
        await self._redis.srem(self._keys.pending, customer)
        # A push between our XLEN and SREM re-adds itself only if it ran SADD after us.
        if any(await self._waiting([customer])):
            await self._redis.sadd(self._keys.pending, customer)

    async def _waiting(self, customers: list[str]) -> list[bool]:
        """Per customer: inbox rows, or replies kept in the state (a turn's save writes
        ``out`` in the step that takes its inbox row: one of the two is there until its
        release), so a sweep finds a cut turn's replies as it finds its inbox."""
        pipe = self._redis.pipeline(transaction=False)
        for customer in customers:
            pipe.xlen(self._keys.inbox(customer))
            pipe.hexists(self._keys.state(customer), "out")
        found = await pipe.execute()
        return [bool(found[i]) or bool(found[i + 1]) for i in range(0, len(found), 2)]

    @guarded
    async def customers_with_pending(self) -> list[str]:
        """Customers with unprocessed entries or a cut turn's kept replies; the others leave
        the set."""
        members = sorted(text(m) for m in await self._redis.smembers(self._keys.pending))
        if not members:
            return []
        found = []
        for customer, waiting in zip(members, await self._waiting(members), strict=True):
            if waiting:
                found.append(customer)
            else:
                await self.settle(customer, 0)
        return found

    @guarded
    async def move(self, source: str, target: str) -> int:
        """Append ``source``'s pending entries to ``target``'s inbox (merge); returns count."""
        moved = await self.pending(source)
        for _, inbound in moved:
            await self.push(target, inbound)
        await self._redis.delete(self._keys.inbox(source))
        await self.settle(source, 0)
        return len(moved)
