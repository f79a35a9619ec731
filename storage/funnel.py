"""The funnel's daily counters: what the engine says a turn did, counted exactly per day.

A turn's facts (``flows.types.Happened``) become one hash field of the day's counter
(``storage.keyparts.funnel_day``), so a turn costs one HINCRBY whatever it did. A fact is
``<kind>|<flow>|<step>|<channel>``, and for an answer ``a|<flow>|<step>|<channel>|<time
bucket>|<option>`` (the answer, its time bucket and the option chosen); a turn of one fact
writes that field, a turn of several the sorted list of its facts as a JSON array (a fact
twice: listed twice), and a count of such a field counts each fact in it. (Until issue 17's
third round every fact was a field of its own, one HINCRBY each: such fields read the same,
so counters written before read on.) ``counts_of`` turns a turn's facts into its (field,
increment) pair; the turn's save (``storage.save``) adds it in its own script outside a Redis
Cluster, so it is counted exactly when the turn is saved and never otherwise; on a cluster
``Count`` adds it right after the save (the counters are global, not in the customer's
slot). ``Funnel`` reads days back as ``Tally`` rows.

The counters are aggregate: no customer id, no text a customer typed (an option is one the
flow offered). This module must not decide what is counted (the engine does) nor compute
figures from the counts (``flows.funnel_stats``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from flows.funnel import Tally, bucket_of
from flows.types import HAPPENED_KINDS, Happened, HappenedKind
from storage.client import RedisClient
from storage.codec import compact_json
from storage.errors import guarded
from storage.keyparts import FUNNEL_TTL, funnel_day
from storage.keys import Keys
from storage.scripts import Key, Script, Spread, runner

_CODE: dict[HappenedKind, str] = {"started": "s", "entered": "e", "answered": "a",
                                  "retried": "r", "failed": "f", "finished": "d",
                                  "handed_off": "h"}
_KIND: dict[str, HappenedKind] = {code: kind for kind, code in _CODE.items()}
if set(_CODE) != set(HAPPENED_KINDS):  # a new kind needs its one-letter code here
    raise RuntimeError(f"storage.funnel: no code for {set(HAPPENED_KINDS) - set(_CODE)}")

# KEYS: the day's counter. ARGV: its ttl, then (field, increment) pairs (``counts_of`` gives
# one; the script takes any number). The same lines as the
# save's own block (``storage.save``): EXPIRE only when a field is new (its count equals the
# increment), so a day's counter lives FUNNEL_TTL after the first count of each kind.
COUNT_LUA = """
local fresh = false
for i = 2, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) == tonumber(ARGV[i + 1]) then
    fresh = true
  end
end
if fresh then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Counts:
    """What one turn adds to the day ``day``: (field, increment) pairs, fields distinct
    (``counts_of`` makes one)."""

    day: str
    pairs: tuple[tuple[str, int], ...]

    def key(self, keys: Keys) -> str:
        return funnel_day(keys.prefix, self.day)

    def args(self) -> list[str | int]:
        """The pairs flat, as the scripts take them."""
        flat: list[str | int] = []
        for name, count in self.pairs:
            flat += (name, count)
        return flat


def field_of(fact: Happened, channel: str) -> str:
    """The counter field of ``fact`` on ``channel``."""
    base = f"{_CODE[fact.kind]}|{fact.flow}|{fact.step}|{channel}"
    if fact.kind != "answered":
        return base
    bucket = bucket_of(fact.seconds)
    return f"{base}|{'' if bucket is None else bucket}|{fact.choice or ''}"


def counts_of(day: str, facts: Iterable[Happened], channel: str) -> Counts | None:
    """A turn's facts as the day's increment: one field (None when the turn did nothing to a
    flow). Sorted, so the same facts in another order add to the same field."""
    names = sorted([field_of(fact, channel) for fact in facts])
    if not names:
        return None
    joined = names[0] if len(names) == 1 else compact_json(names)
    return Counts(day, ((joined, 1),))


def facts_in(name: str) -> list[str]:
    """The facts a stored field counts: itself, or the facts of a turn's JSON array (a
    fact's field starts with its one-letter kind, never with "["); none when unreadable."""
    if not name.startswith("["):
        return [name]
    try:
        found = json.loads(name)
    except ValueError:
        return []
    return [f for f in found if isinstance(f, str)] if isinstance(found, list) else []


def parse_field(name: str, count: int) -> Tally | None:
    """A stored field as a ``Tally`` (None: not one this version writes)."""
    parts = name.split("|", 5)
    kind = _KIND.get(parts[0])
    if kind is None or len(parts) < 4 or (kind == "answered") != (len(parts) == 6):
        return None
    if kind != "answered":
        return Tally(kind, parts[1], parts[2], parts[3], count)
    bucket = int(parts[4]) if parts[4].isdigit() else None
    return Tally(kind, parts[1], parts[2], parts[3], count, bucket, parts[5])


@dataclass(slots=True)
class Count(Script):
    """Add a turn's counts on a Redis Cluster (outside one the save adds them itself)."""

    LUA: ClassVar[str] = COUNT_LUA
    counter: Key
    ttl: int
    pairs: Spread

    @classmethod
    def of(cls, keys: Keys, counts: Counts) -> Self:
        return cls(counts.key(keys), FUNNEL_TTL, counts.args())

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, Counts("2026-12-05", (("e|booking|day|vk", 1),)))


class Funnel:
    """The counters, read by day; ``count`` adds a turn's on a cluster."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._count = runner(redis, Count)

    @guarded
    async def count(self, counts: Counts) -> None:
        await self._count(Count.of(self._keys, counts))

    @guarded
    async def days(self, days: Sequence[str]) -> list[Tally]:
        """Every count of ``days`` (``YYYY-MM-DD``), summed over the days."""
        pipe = self._redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(funnel_day(self._keys.prefix, day))
        total: Counter[str] = Counter()
        for fields in await pipe.execute():
            for name, value in fields.items():
                for fact in facts_in(_text(name)):
                    total[fact] += int(value)
        return [t for name, n in sorted(total.items()) if (t := parse_field(name, n))]

    @guarded
    async def drop(self, days: Sequence[str]) -> None:
        """Forget the counts of ``days`` (tests and the bench start from nothing)."""
        if days:
            await self._redis.delete(*(funnel_day(self._keys.prefix, d) for d in days))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
