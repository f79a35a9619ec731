"""Reminders: APScheduler 3 with its RedisJobStore, one scheduling process, exactly-once firing.

This module owns when reminders fire. Every process starts an ``AsyncIOScheduler`` *paused* on
the shared ``RedisJobStore`` (a paused, started scheduler writes jobs straight to the store), so
any process may add and cancel jobs; the process holding the leader lock (a Redis key renewed
every few seconds) resumes its scheduler and is the only one that runs jobs. A job carries only
ids — ``(bot, customer, reminder key)`` — and calls ``bots.scheduler:fire`` by textual reference;
what to run (flow, vars, due time) is a small JSON record in Redis. A firing claims
``(reminder key, due time)`` with ``SET NX``, so even two leaders briefly alive deliver once.
A claimed reminder becomes a ``TimerEvent`` fed to the runtime, unless it is older than the
grace period: then it is recorded as missed in the history. It must not send anything itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import pickle
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

import redis as redis_sync
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.redis import RedisJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp

from bots.background import finish, pause
from bots.owner import OwnerNote
from flows.types import JSON, Event, ScheduleReminder, TimerEvent
from storage.client import scripts_span_slots
from storage.errors import UNAVAILABLE_ERRORS, StorageError
from storage.history import HistoryEntry
from storage.keys import REMINDER_CLAIM_TTL, SCHED_LEADER_TTL_MS, Keys

if TYPE_CHECKING:
    from bots.metrics import Metrics
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

JOB_FUNC = "bots.scheduler:fire"
POLL_EVERY = 1.0  # the leader looks for jobs other processes added
FIRE_CONCURRENCY = 16
EARLY_TOLERANCE = 5.0  # seconds; a record due later than this belongs to a newer job
FIRE_ATTEMPTS = 4
_RETRYABLE: tuple[type[Exception], ...] = (StorageError, *UNAVAILABLE_ERRORS)

# Services of this process by bot name, so a fired job (ids only) finds its runtime.
_SERVICES: dict[str, ReminderService] = {}


async def fire(bot: str, customer: str, key: str) -> None:
    """The job function APScheduler calls (by reference ``bots.scheduler:fire``)."""
    service = _SERVICES.get(bot)
    if service is None:
        log.warning("reminder %s fired but bot %s is not running here", key, bot)
        return
    await service.fired(customer, key)


@dataclass(frozen=True, slots=True)
class Record:
    """What a reminder runs: stored as JSON next to the job, never pickled."""

    key: str
    flow: str
    at: datetime
    vars: dict[str, JSON]

    def dump(self) -> str:
        return json.dumps({"flow": self.flow, "at": self.at.isoformat(), "vars": self.vars},
                          ensure_ascii=False)

    @classmethod
    def load(cls, key: str, raw: bytes | str) -> Record:
        data = json.loads(raw)
        return cls(key, data["flow"], datetime.fromisoformat(data["at"]), data.get("vars", {}))


def job_id(customer: str, key: str) -> str:
    return f"{customer}:{key}"


def decide(due: datetime, now: datetime, grace: float) -> str:
    """``"deliver"`` or ``"missed"``: a reminder later than ``grace`` seconds is not sent."""
    return "missed" if (now - due).total_seconds() > grace else "deliver"


class Inject(Protocol):
    def __call__(self, customer: str, event: Event, *, event_id: str) -> Awaitable[bool]: ...


class _StagingJobStore(RedisJobStore):  # type: ignore[misc]
    """APScheduler's RedisJobStore whose writes can be staged for the caller's own pipeline.

    An ``add_job`` made inside ``staging()`` (on the event loop, in
    ``ReminderService._add_job``) appends ``(job id, pickled state, run time)`` instead of two
    blocking round trips in a worker thread; the caller writes them exactly as RedisJobStore
    does (the job hash and the run-times zset), in one async round trip with the reminder's
    record. Every other use (the scheduler's own reads, removals, threads) is unchanged."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._local = threading.local()

    @contextlib.contextmanager
    def staging(self) -> Iterator[list[tuple[str, bytes, float | None]]]:
        staged: list[tuple[str, bytes, float | None]] = []
        self._local.staged = staged
        try:
            yield staged
        finally:
            self._local.staged = None

    def _stage(self, job: Any) -> bool:
        staged = getattr(self._local, "staged", None)
        if staged is None:
            return False
        run_time = job.next_run_time
        staged.append((job.id, pickle.dumps(job.__getstate__(), self.pickle_protocol),
                       None if run_time is None else datetime_to_utc_timestamp(run_time)))
        return True

    def add_job(self, job: Any) -> None:
        if not self._stage(job):
            super().add_job(job)

    def write(self, pipe: Any, staged: list[tuple[str, bytes, float | None]]) -> None:
        """Queue the staged writes on ``pipe`` (RedisJobStore's own layout)."""
        for job, state, run_time in staged:
            pipe.hset(self.jobs_key, job, state)
            if run_time is None:
                pipe.zrem(self.run_times_key, job)
            else:
                pipe.zadd(self.run_times_key, {job: run_time})


class _Scheduler(AsyncIOScheduler):  # type: ignore[misc]
    """APScheduler's asyncio scheduler, woken by a new job only when it is due before the
    wake-up already planned. APScheduler wakes on every ``add_job`` and reads its Redis job
    store synchronously on the event loop — a booking each time, ~3 % of the loop under load.
    Jobs due up to ``POLL_EVERY`` before that wake-up (bookings of the same slot share due
    times) wait for it too: the leader wakes the scheduler every ``POLL_EVERY`` seconds anyway,
    which also picks up a job that slips through a race here. While a job is being staged
    (see ``_StagingJobStore``) its wake-up waits until the job is written: ``wake_for``."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._quiet = threading.local()

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        self._quiet.on = True
        try:
            yield
        finally:
            self._quiet.on = False

    def wakeup(self) -> None:
        if not getattr(self._quiet, "on", False):
            super().wakeup()

    def wake_for(self, due: datetime) -> None:
        """A job due at ``due`` was written: wake up unless the planned wake-up is soon enough."""
        if self.state != STATE_RUNNING:
            return  # paused (not the leader): the leader's own poll finds the job
        timer, loop = self._timeout, self._eventloop
        if timer is not None and loop is not None:
            wait = (due - datetime.now(UTC)).total_seconds()
            if loop.time() + wait > timer.when() - POLL_EVERY:
                return  # the planned wake-up (or the leader's poll) will run it on time
        super().wakeup()


class ReminderService:
    """Schedules, cancels and fires one bot's reminders."""

    def __init__(
        self,
        *,
        store: Store,
        redis_url: str,
        metrics: Metrics,
        inject: Inject,
        zone: tzinfo,
        grace: float = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        owner_notify: Callable[[OwnerNote], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._bot = store.keys.bot
        self.keys: Keys = store.keys
        self._metrics = metrics
        self._inject = inject
        self._zone = zone
        self.grace = grace
        self._clock = clock
        self._owner_notify = owner_notify
        self._sync = redis_sync.Redis.from_url(redis_url)
        jobstore = _StagingJobStore(
            jobs_key=self.keys.sched_jobs, run_times_key=self.keys.sched_run_times
        )
        jobstore.redis = self._sync
        self._jobstore = jobstore
        self.scheduler = _Scheduler(
            jobstores={"default": jobstore}, timezone=UTC,
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        self._token = secrets.token_hex(16)
        self._leader_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._firing = asyncio.Semaphore(FIRE_CONCURRENCY)
        self.leader = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, lead: bool = True) -> None:
        """Start paused (can add jobs); with ``lead``, compete for the leader lock."""
        if lead or self._bot not in _SERVICES:  # a lister must not take a runner's place
            _SERVICES[self._bot] = self
        self.scheduler.start(paused=True)  # no I/O: the Redis job store connects lazily
        if lead:
            self.compete()

    def compete(self) -> None:
        """Take part in the leader election (the leader runs the jobs)."""
        if self._leader_task is None:
            self._leader_task = asyncio.create_task(self._lead(), name="scheduler-leader")

    async def stop(self) -> None:
        if self._leader_task is not None:
            await finish([self._leader_task], self._stop)
            self._leader_task = None
        if self.leader:
            await self._store.redis.eval(_RELEASE, 1, self.keys.sched_leader, self._token)
            self.leader = False
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop
        if _SERVICES.get(self._bot) is self:
            del _SERVICES[self._bot]
        self._sync.close()

    async def _lead(self) -> None:
        while True:
            try:
                await self._lead_once()
            except Exception as exc:  # Redis trouble: step down, try again
                log.warning("scheduler leadership check failed: %s", type(exc).__name__)
                self._step_down()
            if await pause(self._stop, POLL_EVERY):
                return

    async def _lead_once(self) -> None:
        redis = self._store.redis
        if self.leader:
            renewed = await redis.eval(
                _RENEW, 1, self.keys.sched_leader, self._token, SCHED_LEADER_TTL_MS
            )
            if not renewed:
                self._step_down()
                return
            self.scheduler.wakeup()  # pick up jobs other processes added
            return
        if await redis.set(self.keys.sched_leader, self._token, nx=True, px=SCHED_LEADER_TTL_MS):
            self.leader = True
            restored = await self.reconcile()
            log.info("this process now runs the reminder scheduler (%d jobs restored)", restored)
            self.scheduler.resume()

    async def reconcile(self) -> int:
        """Re-add the job of every reminder record that has none.

        APScheduler deletes a date job when it hands it to the executor; a process killed
        before the firing was claimed would lose that reminder. Records are the truth.
        """
        redis = self._store.redis
        jobs = {_text(k) for k in await redis.hkeys(self.keys.sched_jobs)}
        restored = 0
        async for name in redis.scan_iter(match=self.keys.reminder_records_pattern, count=500):
            customer = self.keys.customer_of_key(_text(name))
            for key, raw in (await redis.hgetall(name)).items():
                if job_id(customer, _text(key)) not in jobs:
                    await self._add_job(customer, Record.load(_text(key), raw))
                    restored += 1
        return restored

    def _step_down(self) -> None:
        if self.leader:
            self.leader = False
            self.scheduler.pause()
            log.warning("reminder scheduler leadership lost")

    # ------------------------------------------------------------------ add / cancel

    async def schedule(self, customer: str, reminder: ScheduleReminder) -> None:
        at = reminder.at if reminder.at.tzinfo else reminder.at.replace(tzinfo=self._zone)
        record = Record(reminder.key, reminder.flow, at, dict(reminder.vars))
        await self._add_job(customer, record, new=True)
        self._metrics.reminders_scheduled.inc()

    async def _add_job(self, customer: str, record: Record, *, new: bool = False) -> None:
        """Write the reminder's APScheduler job (and, when ``new``, its record and index).

        One round trip, atomic outside a cluster: the job is built by APScheduler on the loop
        (no I/O) and staged by the job store instead of written from a worker thread."""
        redis = self._store.redis
        with self._jobstore.staging() as staged, self.scheduler.quiet():
            self.scheduler.add_job(
                JOB_FUNC, trigger=DateTrigger(run_date=record.at, timezone=UTC),
                args=[self._bot, customer, record.key], id=job_id(customer, record.key),
                name=f"{record.flow}:{record.key}", replace_existing=True,
            )
        pipe = redis.pipeline(transaction=scripts_span_slots(redis))
        if new:
            pipe.hset(self.keys.reminder_records(customer), record.key, record.dump())
            pipe.sadd(self.keys.reminders(customer), record.key)
        self._jobstore.write(pipe, staged)
        await pipe.execute()
        self.scheduler.wake_for(record.at)

    async def cancel(self, customer: str, key: str) -> bool:
        redis = self._store.redis
        removed = await redis.hdel(self.keys.reminder_records(customer), key)
        await self._store.reminders.remove(customer, key)
        with contextlib.suppress(JobLookupError):
            await asyncio.to_thread(self.scheduler.remove_job, job_id(customer, key))
        return bool(removed)

    async def cancel_all(self, customer: str) -> int:
        keys = await self._store.redis.hkeys(self.keys.reminder_records(customer))
        results = [await self.cancel(customer, _text(k)) for k in keys]
        return sum(results)

    async def move(self, source: str, target: str) -> int:
        """After a merge: ``source``'s reminders now belong to ``target`` (whose own win)."""
        moved = 0
        taken = {r.key for r in await self.of_customer(target)}
        for record in await self.of_customer(source):
            if record.key not in taken:
                await self.schedule(target, ScheduleReminder(
                    key=record.key, at=record.at, flow=record.flow, vars=record.vars))
                moved += 1
            await self.cancel(source, record.key)
        return moved

    async def of_customer(self, customer: str) -> list[Record]:
        raw = await self._store.redis.hgetall(self.keys.reminder_records(customer))
        records = [Record.load(_text(k), v) for k, v in raw.items()]
        return sorted(records, key=lambda r: r.at)

    async def scheduled(self) -> list[tuple[str, Record | None, datetime | None]]:
        """Every job in the store: (customer, its record, next run time)."""
        jobs = await asyncio.to_thread(self.scheduler.get_jobs)
        found = []
        for job in jobs:
            _bot, customer, key = job.args
            raw = await self._store.redis.hget(self.keys.reminder_records(customer), key)
            record = Record.load(key, raw) if raw is not None else None
            found.append((customer, record, job.next_run_time))
        return found

    # ------------------------------------------------------------------ firing

    async def fired(self, customer: str, key: str) -> None:
        """A job ran: claim, then deliver or record as missed. A few at a time (a burst of
        10,000 due jobs must not exhaust Redis connections), retried on Redis trouble."""
        async with self._firing:
            for attempt in range(FIRE_ATTEMPTS):
                try:
                    await self._fire(customer, key)
                    return
                except _RETRYABLE as exc:
                    log.warning("reminder %s of %s: attempt %d failed: %s", key, customer,
                                attempt + 1, type(exc).__name__)
                    await asyncio.sleep(0.5 * 2**attempt)
            self._metrics.reminders_failed.inc()
            log.error("reminder %s of %s could not be fired", key, customer)

    async def _fire(self, customer: str, key: str) -> None:
        raw = await self._store.redis.hget(self.keys.reminder_records(customer), key)
        if raw is None:
            return  # cancelled after the job was picked
        record = Record.load(key, raw)
        if (record.at - self._clock()).total_seconds() > EARLY_TOLERANCE:
            return  # moved to a later time after this job was picked; its new job will fire
        due = record.at.isoformat()
        claim = self.keys.reminder_claim(customer, key, due)
        if not await self._store.redis.set(claim, "1", nx=True, ex=REMINDER_CLAIM_TTL):
            await self._forget_if_same(customer, record, raw)  # fired already (maybe by a
            return  # process that died before tidying up)
        try:
            await self._deliver_or_miss(customer, record, due)
        except Exception:  # not handed over: free the tick so a retry can claim it
            await self._store.redis.delete(claim)
            raise
        await self._forget_if_same(customer, record, raw)

    async def _deliver_or_miss(self, customer: str, record: Record, due: str) -> None:
        if decide(record.at, self._clock(), self.grace) == "missed":
            await self._missed(customer, record)
            return
        event = TimerEvent(flow=record.flow, key=record.key, vars=record.vars)
        if await self._inject(customer, event, event_id=f"timer:{record.key}:{due}"):
            self._metrics.reminders_fired.inc()
        else:
            await self._missed(customer, record, why="no linked channel")

    async def _forget_if_same(self, customer: str, record: Record, raw: bytes | str) -> None:
        """Drop the record unless the reminder was re-scheduled meanwhile."""
        await self._store.redis.eval(
            _HDEL_IF_SAME, 1, self.keys.reminder_records(customer), record.key, raw
        )
        if not await self._store.redis.hexists(self.keys.reminder_records(customer), record.key):
            await self._store.reminders.remove(customer, record.key)

    async def _missed(self, customer: str, record: Record, *, why: str = "") -> None:
        self._metrics.reminders_missed.inc()
        note = f"reminder {record.key} missed ({record.flow}, due {record.at.isoformat()})"
        if why:
            note += f": {why}"
        log.warning(note, extra={"customer": customer})
        entry = HistoryEntry(ts=time.time(), channel="-", direction="event", text="", note=note)
        await self._store.history.append(customer, entry)
        # After an outage there may be thousands: the owner hears only of one nobody can get.
        if why and self._owner_notify is not None:
            await self._owner_notify(OwnerNote("undeliverable", customer, note))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_HDEL_IF_SAME = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""
