"""What the desk's conversation list shows of each customer, read in batches.

One pipelined round trip per batch of customers: the dialogue's hand-off stage (only that
field of the stored state is read: validating whole states was most of the list's time), the
last history entry,
the profile's name and phone, and the linked accounts. This module must not sort, filter or
decide what a state means to a person (``bots.desk.conversations`` does).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
