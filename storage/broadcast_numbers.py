"""A broadcast's numbers: the aggregate counters per channel, each recipient's outcome, and
the replies, unsubscriptions and conversions counted once per recipient (``Mark``). The
counters stay when a customer is erased; the per-recipient records go
(``Broadcasts.forget``). This module must not decide what counts (``bots.broadcasts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.broadcast_scripts import Mark
from storage.client import RedisClient
from storage.codec import stream_rows, text
from storage.errors import guarded
from storage.keys import Keys
from storage.profile import Consent
from storage.scripts import runner

MARKS = ("replied", "unsubscribed", "converted")


class Numbers:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._mark = runner(redis, Mark)

    @guarded
    async def mark(self, broadcast: str, customer: str, mark: str, channel: str) -> bool:
        keys = self._keys.broadcast(broadcast)
        return bool(await self._mark(Mark(keys.marks, keys.stats, f"{customer} {mark}",
                                          f"{channel}:{mark}")))

    @guarded
    async def exclude(self, broadcast: str, customer: str, mark: str) -> None:
        """Never count ``mark`` for ``customer`` (it had the conversion's tag before)."""
        await self._redis.hsetnx(self._keys.broadcast(broadcast).marks, f"{customer} {mark}",
                                 "before")

    @guarded
    async def outcomes(self, broadcast: str) -> dict[str, str]:
        """customer -> outcome ("sent vk", ...), for the marks and the status."""
        raw: Any = await self._redis.hgetall(self._keys.broadcast(broadcast).done)
        return {text(k): text(v) for k, v in raw.items()}

    @guarded
    async def stats(self, broadcast: str) -> dict[str, dict[str, int]]:
        """channel -> counter -> n."""
        raw: Any = await self._redis.hgetall(self._keys.broadcast(broadcast).stats)
        found: dict[str, dict[str, int]] = {}
        for key, value in raw.items():
            channel, _, counter = text(key).partition(":")
            found.setdefault(channel, {})[counter] = int(value)
        return found

    @guarded
    async def since(self, customers: Sequence[str], since: float, *, note: str = "",
                    step: str | None = None) -> list[After]:
        """What each customer did since ``since`` (epoch): wrote, withdrew the advertising
        consent; the tags they have now; when their history recorded the copy noted ``note``
        and when they last reached ``step`` (``storage.reached``). One pipeline (one slot per
        customer)."""
        pipe = self._redis.pipeline(transaction=False)
        for customer in customers:
            pipe.xrevrange(self._keys.history(customer), count=50)
            pipe.lrange(self._keys.consents(customer), -5, -1)
            pipe.smembers(self._keys.tags(customer))
            if step is not None:
                pipe.zscore(self._keys.reached(customer), step)
        rows = await pipe.execute()
        n = 3 if step is None else 4
        return [_after(rows[n * i: n * i + n], since, note) for i in range(len(customers))]


@dataclass(frozen=True, slots=True)
class After:
    replied: bool
    unsubscribed: bool
    tags: frozenset[str]
    got: float | None = None  # when the history recorded the copy (None: not among the last)
    reached: float | None = None  # when the step was last reached (None: never)


def _after(row: list[Any], since: float, note: str) -> After:
    history, consents, tags = row[:3]
    rows = stream_rows(history)
    replied = any(f.get("d") == "in" and int(f.get("ms", "0")) / 1000 >= since
                  for _, f in rows)
    got = next((int(f.get("ms", "0")) / 1000 for _, f in rows
                if note and f.get("d") == "out" and f.get("n") == note), None)
    unsubscribed = False
    for raw in consents:
        consent = Consent.model_validate_json(raw)
        if consent.what == "ads" and consent.at.timestamp() >= since:
            unsubscribed = not consent.granted
    reached = float(row[3]) / 1000 if len(row) > 3 and row[3] is not None else None
    return After(replied, unsubscribed, frozenset(text(t) for t in tags), got, reached)
