"""Broadcasts: their definitions and state, the queue of customers still to send, each
customer's outcome, the claim of each copy and the counters.

Per broadcast, under ``{bc:<id>}`` (one slot): ``meta`` (hash: the owner's definition as JSON,
``status``, times), ``queue`` (zset of customers still to send, in the order found), ``done``
(hash customer -> outcome), ``marks`` (hash "<customer> <mark>" -> 1: a reply, unsubscription
or conversion already counted) and ``stats`` (hash "<channel>:<counter>" -> n, the aggregate,
kept when a customer is erased). The claim of a customer's copy is written with its outbox
entry (``storage.broadcast_scripts.ClaimPut``). This module must not decide who gets a
broadcast nor send anything (``bots.broadcasts``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from storage.broadcast_batches import Members
from storage.broadcast_numbers import MARKS, Numbers
from storage.broadcast_scripts import ClaimPut, Finish
from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keyparts import broadcast_claim, broadcasts_list
from storage.keys import Keys
from storage.outbox import Prepared, shard_in, shard_of
from storage.scripts import runner

Status = Literal["draft", "scheduled", "running", "paused", "cancelled", "done"]
STATUSES: tuple[Status, ...] = ("draft", "scheduled", "running", "paused", "cancelled", "done")


@dataclass(frozen=True, slots=True)
class Record:
    """A broadcast as stored: the owner's definition (JSON) and where it stands."""

    id: str
    spec: str
    status: Status
    created: float
    started: float | None = None
    finished: float | None = None
    queued: int = 0  # customers put in the queue when it started


class Broadcasts:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._claim_put = runner(redis, ClaimPut)
        self._finish = runner(redis, Finish)
        self.numbers = Numbers(redis, keys)
        self.members = Members(redis, keys)  # claims of VK batches' members

    @guarded
    async def create(self, broadcast: str, spec: str) -> bool:
        """Store a new broadcast as a draft; False if the id is taken."""
        meta = self._keys.broadcast(broadcast).meta
        if not await self._redis.hsetnx(meta, "spec", spec):
            return False
        now = time.time()
        await self._redis.hset(meta, mapping={"status": "draft", "created": now})
        await self._redis.zadd(broadcasts_list(self._keys.prefix), {broadcast: now})
        return True

    @guarded
    async def get(self, broadcast: str) -> Record | None:
        raw = await self._redis.hgetall(self._keys.broadcast(broadcast).meta)
        fields = {text(k): text(v) for k, v in raw.items()}
        if "spec" not in fields:
            return None
        status = fields.get("status", "draft")
        return Record(
            id=broadcast, spec=fields["spec"],
            status=status if status in STATUSES else "draft",
            created=float(fields.get("created", 0)),
            started=float(fields["started"]) if "started" in fields else None,
            finished=float(fields["finished"]) if "finished" in fields else None,
            queued=int(fields.get("queued", 0)))

    @guarded
    async def ids(self) -> list[str]:
        """Every broadcast, the newest first."""
        found: Any = await self._redis.zrevrange(broadcasts_list(self._keys.prefix), 0, -1)
        return [text(b) for b in found]

    @guarded
    async def set_status(self, broadcast: str, status: Status, **times: float) -> None:
        fields: dict[Any, Any] = {"status": status}  # (redis-py's invariant mapping type)
        fields.update(times)
        await self._redis.hset(self._keys.broadcast(broadcast).meta, mapping=fields)

    @guarded
    async def enqueue(self, broadcast: str, customers: Sequence[str], start: int) -> int:
        """Queue ``customers`` (numbered from ``start``) unless queued or done already."""
        keys = self._keys.broadcast(broadcast)
        pipe = self._redis.pipeline(transaction=False)
        for customer in customers:
            pipe.hexists(keys.done, customer)
        done = await pipe.execute()
        fresh = {c: start + i for i, (c, d) in enumerate(zip(customers, done, strict=True))
                 if not d}
        if not fresh:
            return 0
        added: Any = await self._redis.zadd(keys.queue, fresh, nx=True)
        return int(added)

    @guarded
    async def queued(self, broadcast: str, count: int) -> list[str]:
        """The first ``count`` customers still to send."""
        found: Any = await self._redis.zrange(self._keys.broadcast(broadcast).queue, 0, count - 1)
        return [text(c) for c in found]

    @guarded
    async def left(self, broadcast: str) -> int:
        return int(await self._redis.zcard(self._keys.broadcast(broadcast).queue))

    @guarded
    async def claim(self, broadcast: str, customer: str, entry: Prepared) -> bool:
        """Take ``customer``'s copy and write its outbox entry together; False when the copy
        was taken before (by this broadcast, in a run a crash ended, or another process)."""
        shard = shard_in(entry.id)
        claim = broadcast_claim(self._keys.prefix, broadcast, customer, shard or 0)
        call = ClaimPut.of(self._keys.outbox(shard), claim, entry.id, entry.json)
        return bool(await self._claim_put(call))

    @guarded
    async def claimed(self, broadcast: str, customers: Iterable[str]) -> bool:
        """Has any of ``customers`` (a customer and those merged into it) a copy already?"""
        pipe = self._redis.pipeline(transaction=False)  # (the shards' slots differ)
        for customer in customers:
            pipe.exists(broadcast_claim(self._keys.prefix, broadcast, customer,
                                        shard_of(customer)))
        return any(await pipe.execute())

    @guarded
    async def finish(self, broadcast: str, customer: str, outcome: str, channel: str,
                     counter: str) -> bool:
        """Record ``customer``'s outcome ("sent", "refused Undeliverable", "skipped no
        consent") once and count it as ``<channel>:<counter>``."""
        keys = self._keys.broadcast(broadcast)
        return bool(await self._finish(Finish(keys.queue, keys.done, keys.stats, customer,
                                              f"{outcome} {channel}", f"{channel}:{counter}")))

    @guarded
    async def received(self, customer: str) -> dict[str, str]:
        """broadcast -> this customer's outcome, for ``svyaz export`` (152-FZ access)."""
        ids = await self.ids()
        pipe = self._redis.pipeline(transaction=False)
        for broadcast in ids:
            pipe.hget(self._keys.broadcast(broadcast).done, customer)
        found = await pipe.execute()
        return {b: text(o) for b, o in zip(ids, found, strict=True) if o is not None}

    @guarded
    async def forget(self, customer: str) -> None:
        """Erase ``customer`` from every broadcast's queue, outcomes and marks (152-FZ);
        the counters stay. (Its claims carry its id: ``Store.forget``'s scan takes them.)"""
        for broadcast in await self.ids():
            await self.members.forget(broadcast, customer)  # (before its claim goes)
            keys = self._keys.broadcast(broadcast)
            pipe = self._redis.pipeline(transaction=True)  # one slot
            pipe.zrem(keys.queue, customer)
            pipe.hdel(keys.done, customer)
            pipe.hdel(keys.marks, *(f"{customer} {m}" for m in MARKS))
            await pipe.execute()

    @guarded
    async def merged_into(self, customer: str) -> list[str]:
        """The customer and every customer merged into it (one person: one copy)."""
        found: Any = await self._redis.smembers(self._keys.merged(customer))
        return [customer, *sorted(text(m) for m in found)]

    @guarded
    async def count(self, broadcast: str, counter: str, by_channel: dict[str, int]) -> None:
        pipe = self._redis.pipeline(transaction=True)  # one slot
        for channel, n in by_channel.items():
            pipe.hincrby(self._keys.broadcast(broadcast).stats, f"{channel}:{counter}", n)
        await pipe.execute()
