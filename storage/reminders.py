"""Reminders as stored: each customer's records and index, and the writes of their jobs.

A reminder is a small JSON record (flow, due time, vars) in the customer's slot
(``ReminderRecords``), an entry in the customer's index of reminder keys (``Reminders``: lets
``merge`` move a customer's reminders and ``forget`` find them to cancel) and an APScheduler
job in the scheduler's ``RedisJobStore`` that carries only ids. ``ReminderRecords.put_all``
writes jobs that ``bots.jobs`` built, in that store's own layout, together with their records. This
module must not schedule, fire or decide anything (``bots.scheduler`` does) and builds no key
names (``storage.keys`` does).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from flows.types import JSON, Ladder
from storage.client import RedisClient, scripts_span_slots
from storage.codec import ladder_from_dict, ladder_to_dict, text
from storage.errors import guarded
from storage.keys import Keys
from storage.scripts import Key, Script, runner


class Reminders:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def add(self, customer: str, key: str) -> None:
        await self._redis.sadd(self._keys.reminders(customer), key)

    @guarded
    async def remove(self, customer: str, key: str) -> bool:
        return bool(await self._redis.srem(self._keys.reminders(customer), key))

    @guarded
    async def list(self, customer: str) -> builtins.list[str]:
        return sorted(text(m) for m in await self._redis.smembers(self._keys.reminders(customer)))

    @guarded
    async def move(self, source: str, target: str) -> builtins.list[str]:
        """Move every reminder key of ``source`` to ``target`` (merge); the keys moved."""
        keys = await self.list(source)
        if keys:
            await self._redis.sadd(self._keys.reminders(target), *keys)
        await self._redis.delete(self._keys.reminders(source))
        return keys

    @guarded
    async def clear(self, customer: str) -> builtins.list[str]:
        keys = await self.list(customer)
        await self._redis.delete(self._keys.reminders(customer))
        return keys


@dataclass(frozen=True, slots=True)
class Record:
    """What a reminder runs: stored as JSON next to its job, never pickled."""

    key: str
    flow: str
    at: datetime
    vars: dict[str, JSON]
    critical: bool = False  # a notice that must arrive (flows: ``critical: true``)
    ladder: Ladder | None = None  # where it climbs when it does not (``escalate:``)
    about: datetime | None = None  # what it reminds of (the visit's time), for the owner

    def dump(self) -> str:
        data: dict[str, object] = {"flow": self.flow, "at": self.at.isoformat(),
                                   "vars": self.vars}
        if self.critical:  # (left out otherwise: a plain reminder is stored as before)
            data["critical"] = True
        if self.ladder is not None:
            data["ladder"] = ladder_to_dict(self.ladder)
        if self.about is not None:
            data["about"] = self.about.isoformat()
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def load(cls, key: str, raw: bytes | str) -> Record:
        data = json.loads(raw)
        ladder, about = data.get("ladder"), data.get("about")
        return cls(key, data["flow"], datetime.fromisoformat(data["at"]), data.get("vars", {}),
                   bool(data.get("critical", False)),
                   None if ladder is None else ladder_from_dict(ladder),
                   None if about is None else datetime.fromisoformat(about))


@dataclass(frozen=True, slots=True)
class Stored:
    """A record as read, with its exact stored text (what ``forget_if_same`` compares)."""

    record: Record
    raw: bytes | str


@dataclass(frozen=True, slots=True)
class StagedJob:
    """An APScheduler job as its ``RedisJobStore`` keeps it: the job's pickled state in the
    ``Keys.sched_jobs`` hash and its next run time (UTC timestamp; None: paused) in the
    ``Keys.sched_run_times`` zset. Built by ``bots.jobs``; written here with its record."""

    id: str
    state: bytes
    run_time: float | None


# Delete a hash field only while it holds the value read: KEYS[1] the hash, ARGV[1] the field,
# ARGV[2] the value.
@dataclass(slots=True)
class HDelIfSame(Script):
    """Delete ``field`` of hash ``key`` only while it holds ``value``; 1 when deleted."""

    LUA: ClassVar[str] = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""
    key: Key
    field: str
    value: bytes | str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.reminder_records("c1"), "visit", "{}")


class ReminderRecords:
    """The reminders' records (``Keys.reminder_records``, a hash per customer: key -> JSON),
    written together with the index above and the APScheduler job that fires each."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._hdel_if_same = runner(redis, HDelIfSame)

    @guarded
    async def get(self, customer: str, key: str) -> Stored | None:
        raw = await self._redis.hget(self._keys.reminder_records(customer), key)
        return None if raw is None else Stored(Record.load(key, raw), raw)

    @guarded
    async def of_customer(self, customer: str) -> builtins.list[Record]:
        """The customer's records, soonest first."""
        raw = await self._redis.hgetall(self._keys.reminder_records(customer))
        return sorted((Record.load(text(k), v) for k, v in raw.items()), key=lambda r: r.at)

    @guarded
    async def keys_of(self, customer: str) -> builtins.list[str]:
        return [text(k) for k in await self._redis.hkeys(self._keys.reminder_records(customer))]

    async def put(self, customer: str, record: Record, job: StagedJob, *, new: bool) -> None:
        """``put_all`` of one reminder."""
        await self.put_all(customer, [(record, job)], new=new)

    @guarded
    async def put_all(self, customer: str, staged: Sequence[tuple[Record, StagedJob]], *,
                      new: bool) -> None:
        """Write the jobs (and, when ``new``, the records and their index entries) of a
        customer's reminders in one round trip, atomic outside a cluster: one command per
        key however many reminders (a booking's two cost what one did). A key twice: the
        later wins, as two calls in turn would."""
        if not staged:
            return
        pipe = self._redis.pipeline(transaction=scripts_span_slots(self._redis))
        if new:
            pipe.hset(self._keys.reminder_records(customer),
                      mapping={record.key: record.dump() for record, _ in staged})
            pipe.sadd(self._keys.reminders(customer), *{record.key for record, _ in staged})
        jobs = {job.id: job for _, job in staged}.values()  # the later of a key twice
        pipe.hset(self._keys.sched_jobs, mapping={job.id: job.state for job in jobs})
        if due := {job.id: job.run_time for job in jobs if job.run_time is not None}:
            pipe.zadd(self._keys.sched_run_times, due)
        if paused := [job.id for job in jobs if job.run_time is None]:
            pipe.zrem(self._keys.sched_run_times, *paused)
        await pipe.execute()

    @guarded
    async def delete(self, customer: str, key: str) -> bool:
        """Drop the record and its index entry; True when there was a record."""
        removed = await self._redis.hdel(self._keys.reminder_records(customer), key)
        await self._redis.srem(self._keys.reminders(customer), key)
        return bool(removed)

    @guarded
    async def forget_if_same(self, customer: str, stored: Stored) -> None:
        """Drop the record unless it changed since read (the reminder was re-scheduled)."""
        records = self._keys.reminder_records(customer)
        await self._hdel_if_same(HDelIfSame(records, stored.record.key, stored.raw))
        if not await self._redis.hexists(records, stored.record.key):
            await self._redis.srem(self._keys.reminders(customer), stored.record.key)

    @guarded
    async def first_run_time(self) -> float | None:
        """When the soonest job in APScheduler's store is due (epoch seconds; None: none is)."""
        first = await self._redis.zrange(self._keys.sched_run_times, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    @guarded
    async def job_ids(self) -> set[str]:
        """The ids of every job in APScheduler's store."""
        return {text(k) for k in await self._redis.hkeys(self._keys.sched_jobs)}

    async def every(self) -> AsyncIterator[tuple[str, Record]]:
        """Every customer's records, as ``(customer, record)`` (a SCAN, step by step)."""
        names = self._redis.scan_iter(match=self._keys.reminder_records_pattern, count=500)
        while (name := await _step(names)) is not None:
            customer = self._keys.customer_of_key(text(name))
            for key, raw in (await self._all(text(name))).items():
                yield customer, Record.load(text(key), raw)

    @guarded
    async def _all(self, name: str) -> dict[bytes | str, bytes | str]:
        return await self._redis.hgetall(name)


@guarded
async def _step(names: AsyncIterator[bytes | str]) -> bytes | str | None:
    return await anext(names, None)
