"""What the desk's conversation list shows of each customer, read in batches.

One pipelined round trip per batch of customers: the dialogue state, the last history entry,
the profile's name and phone, and the linked accounts. This module must not sort, filter or
decide what a state means to a person (``bots.desk.conversations`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from flows.types import DialogState
from storage.client import RedisClient
from storage.codec import stream_rows, text
from storage.errors import guarded
from storage.history import HistoryEntry
from storage.keys import Keys

BATCH = 500  # customers per round trip


@dataclass(frozen=True, slots=True)
class Summary:
    customer: str
    state: DialogState | None
    last: HistoryEntry | None
    name: str | None
    phone: str | None
    accounts: tuple[str, ...]  # most recently active first


class Summaries:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

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
    state = None
    if raw_state is not None:
        try:
            state = DialogState.model_validate_json(raw_state)
        except ValidationError:
            state = None  # shown as with the bot; the runtime reports a broken state itself
    entries = stream_rows(history)
    return Summary(
        customer=customer, state=state,
        last=HistoryEntry.from_fields(entries[0][1]) if entries else None,
        name=None if name is None else text(name), phone=None if phone is None else text(phone),
        accounts=tuple(text(a) for a in accounts))
