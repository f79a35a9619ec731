"""The flows and steps each customer reached, for segments (``reached: booking.booked``) and a
broadcast's conversions (``converts_at``): a sorted set per customer (``Keys.reached``),
member ``<flow>.<step>`` (a step entered) or ``<flow>`` (the flow started), score the time
in ms it was last reached.

The turn's save writes it (``storage.save``: ``Reached`` rides the same script, no extra round
trip); the members are few (a flow's steps), so it keeps no expiry and is erased with the
customer (``Keys.customer_keys``), exported (``steps``) and merged (``absorb``). This module
must not decide what counts as reached (the engine's ``Happened`` facts do).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flows.types import Happened
from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keys import Keys


def member_of(fact: Happened) -> str | None:
    """The set's member for ``fact`` (None: the fact reaches nothing)."""
    if fact.kind == "entered":
        return f"{fact.flow}.{fact.step}"
    return fact.flow if fact.kind == "started" else None


@dataclass(frozen=True, slots=True)
class Reached:
    """What one turn reached, at ``ms`` (epoch milliseconds)."""

    ms: int
    members: tuple[str, ...]

    @classmethod
    def of(cls, facts: Iterable[Happened], at: float) -> Reached | None:
        """The members of a turn's ``facts`` (None when it reached nothing)."""
        found = dict.fromkeys(m for f in facts if (m := member_of(f)) is not None)
        return cls(int(at * 1000), tuple(found)) if found else None

    def args(self) -> list[str | int]:
        """The save's block: count, time, the members (just 0 when there are none)."""
        return [len(self.members), self.ms, *self.members] if self.members else [0]


class ReachedSteps:
    """Reads the sets (the save writes them); merges one customer's into another's."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def steps(self, customer: str) -> dict[str, float]:
        """member -> when it was last reached (epoch seconds), for the export."""
        raw: Any = await self._redis.zrange(self._keys.reached(customer), 0, -1, withscores=True)
        return {text(m): float(s) / 1000 for m, s in raw}

    @guarded
    async def when(self, customers: Sequence[str], member: str) -> list[float | None]:
        """When each customer last reached ``member`` (epoch seconds; None: never)."""
        pipe = self._redis.pipeline(transaction=False)  # (one slot per customer)
        for customer in customers:
            pipe.zscore(self._keys.reached(customer), member)
        return [None if s is None else float(s) / 1000 for s in await pipe.execute()]

    @guarded
    async def absorb(self, keep: str, other: str) -> None:
        """A merge: ``keep`` reached what either reached, at the later time of the two."""
        raw: Any = await self._redis.zrange(self._keys.reached(other), 0, -1, withscores=True)
        if raw:
            await self._redis.zadd(self._keys.reached(keep), {text(m): s for m, s in raw},
                                   gt=True)
