"""What the desk's conversation list shows of each customer, read in batches, and which
customers a page of the list shows.

One pipelined round trip per batch of customers: the dialogue's hand-off stage (only that
field of the stored state is read: validating whole states was most of the list's time), the
last history entry, the profile's name and phone, and the linked accounts.

A page's customers come from the activity index (``Keys.desk_active``, customer -> when they
last wrote, kept by the accept of each message): reading every customer's accounts to find
the most recent took 390 ms at 10,000 customers. An index missing customers (data from before
it, or a process that does not write it yet) is completed from the accounts when its size
falls short of the customers set. This module must not sort rows, filter them or decide what
a state means to a person (``bots.desk.conversations`` does).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from flows.types import HandoffStage
from storage.client import RedisClient
from storage.codec import stream_rows, text
from storage.errors import guarded
from storage.history import HistoryEntry
from storage.keys import Keys

BATCH = 500  # customers per round trip
ACTIVE_BATCH = 2000  # customers per pipeline of the last-activity read


@dataclass(frozen=True, slots=True)
class Summary:
    customer: str
    handoff: HandoffStage | None  # the dialogue's hand-off stage (None: with the bot)
    last: HistoryEntry | None
    name: str | None
    phone: str | None
    accounts: tuple[str, ...]  # most recently active first


class Summaries:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def last_active(self, customers: Sequence[str]) -> list[float]:
        """When each customer was last active on any account (0: never), in order (one
        pipeline per batch: the list then reads whole summaries only for the rows shown)."""
        found: list[float] = []
        for start in range(0, len(customers), ACTIVE_BATCH):
            pipe = self._redis.pipeline(transaction=False)
            for customer in customers[start:start + ACTIVE_BATCH]:
                pipe.zrevrange(self._keys.accounts(customer), 0, 0, withscores=True)
            found.extend(float(top[0][1]) if top else 0.0 for top in await pipe.execute())
        return found

    @guarded
    async def active(self, start: int, count: int,
                     skip: Collection[str] = ()) -> tuple[list[str], int]:
        """The customers at ``start`` .. ``start + count`` of the activity index without
        ``skip`` (the hand-offs a page lists first), the most recently active first, and how
        many customers the index and ``skip`` hold together. Costs ``len(skip)`` ranks, not
        ``start`` rows; one round trip when there are no rows to read."""
        every, total, ranks = await self._ranks(skip, ranked=count > 0)
        if total < every:  # customers missing from the index: completed once, then read again
            await self._complete()
            every, total, ranks = await self._ranks(skip, ranked=count > 0)
        known = [r for r in ranks if r is not None]
        total += len(ranks) - len(known)
        if count <= 0:
            return [], total
        at = skipped_start(start, known)
        found: Any = await self._redis.zrevrange(self._keys.desk_active, at,
                                                 at + count + len(skip) - 1)
        return [c for c in map(text, found) if c not in skip][:count], total

    async def _ranks(self, skip: Collection[str], *, ranked: bool) -> tuple[int, int, list[Any]]:
        """How many customers there are, how many the index holds, and for each of ``skip``
        its rank in the index (its score, when not ``ranked``; None: not in it)."""
        key, wanted = self._keys.desk_active, list(skip)
        pipe = self._redis.pipeline(transaction=False)
        pipe.scard(self._keys.customers)
        pipe.zcard(key)
        if ranked:
            for customer in wanted:
                pipe.zrevrank(key, customer)
        elif wanted:
            pipe.zmscore(key, wanted)
        every, total, *found = await pipe.execute()
        return int(every), int(total), (found if ranked else found[0] if found else [])

    @guarded
    async def inactive(self, customers: Sequence[str]) -> int:
        """Drop from the activity index those of ``customers`` who are no customers any more
        (merged or erased while a message of theirs was being accepted); how many."""
        if not customers:
            return 0
        known = await self._redis.smismember(self._keys.customers, list(customers))
        gone = [c for c, member in zip(customers, known, strict=True) if not member]
        return int(await self._redis.zrem(self._keys.desk_active, *gone)) if gone else 0

    async def _complete(self) -> None:
        customers = await self.customers()
        scores: list[Any] = []
        for start in range(0, len(customers), ACTIVE_BATCH):
            scores += await self._redis.zmscore(self._keys.desk_active,
                                                customers[start:start + ACTIVE_BATCH])
        missing = [c for c, score in zip(customers, scores, strict=True) if score is None]
        when = await self.last_active(missing)
        for start in range(0, len(missing), ACTIVE_BATCH):  # GT: a message meanwhile wins
            await self._redis.zadd(self._keys.desk_active, dict(zip(
                missing[start:start + ACTIVE_BATCH], when[start:start + ACTIVE_BATCH],
                strict=True)), gt=True)

    @guarded
    async def customers(self) -> list[str]:
        return [text(c) for c in await self._redis.smembers(self._keys.customers)]

    @guarded
    async def of(self, customers: Sequence[str]) -> list[Summary]:
        found: list[Summary] = []
        for start in range(0, len(customers), BATCH):
            found.extend(await self._batch(customers[start:start + BATCH]))
        return found

    async def _batch(self, customers: Sequence[str]) -> list[Summary]:
        pipe = self._redis.pipeline(transaction=False)
        for customer in customers:
            pipe.hget(self._keys.state(customer), "d")
            pipe.xrevrange(self._keys.history(customer), count=1)
            pipe.hmget(self._keys.profile(customer), ["name", "phone"])
            pipe.zrevrange(self._keys.accounts(customer), 0, -1)
        rows = await pipe.execute()
        return [_summary(customer, rows[4 * i: 4 * i + 4]) for i, customer in enumerate(customers)]


def skipped_start(start: int, ranks: Sequence[int]) -> int:
    """Where the ``start``-th item of a ranked list is once the items at ``ranks`` are left
    out (each skipped item at or before it moves it one further)."""
    at = start
    for rank in sorted(ranks):
        if rank > at:
            break
        at += 1
    return at


def _summary(customer: str, row: list[Any]) -> Summary:
    raw_state, history, (name, phone), accounts = row
    entries = stream_rows(history)
    return Summary(
        customer=customer, handoff=_stage(raw_state),
        last=HistoryEntry.from_fields(entries[0][1]) if entries else None,
        name=None if name is None else text(name), phone=None if phone is None else text(phone),
        accounts=tuple(text(a) for a in accounts))


def _stage(raw: bytes | str | None) -> HandoffStage | None:
    """The hand-off stage in a stored state (``DialogState.handoff``, alias ``h``; a state
    stored before the stages kept ``true`` for "waiting"); None when absent or unreadable
    (the runtime reports a broken state itself)."""
    if raw is None:
        return None
    try:
        stage = json.loads(raw).get("h")
    except (ValueError, AttributeError):
        return None
    if stage is True:
        return "waiting"
    return stage if stage in ("waiting", "unheard", "taken") else None
