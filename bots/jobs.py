"""APScheduler, composed: the scheduler that runs reminder jobs and how a job is added to it.

This module owns svyaz's use of APScheduler 3 through its public API only: an
``AsyncIOScheduler`` on a ``RedisJobStore`` (``Keys.sched_jobs`` / ``Keys.sched_run_times``).
Every process starts it *paused*, so it can list and remove jobs; the leader resumes it and
wakes it every ``POLL_EVERY`` seconds (``poll``) to pick up jobs other processes added.

A job carries only ids — ``(bot, customer, reminder key)`` — and calls the function that
``func`` names (``bots.scheduler:fire``) by textual reference. ``add`` does not go through the
scheduler's own ``add_job``, which would read and write the job store synchronously on the
event loop and wake the scheduler each time: the job is built with no I/O by a scheduler that
is never started (``add_job`` on a stopped scheduler only returns the job), pickled as
``RedisJobStore.add_job`` does, and written by storage (``ReminderRecords.put``) in one async
round trip with its record. The running scheduler is
then woken only when the job is due before the leader's next poll, which re-plans anyway.

It must not decide what a fired job does (``bots.scheduler``) nor touch Redis itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.redis import RedisJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp

from storage.errors import StorageError
from storage.keys import Keys
from storage.reminders import Record, ReminderRecords, StagedJob
from storage.sync_client import SyncRedis, close_sync_redis, make_sync_redis

POLL_EVERY = 1.0  # the leader looks for jobs other processes added
# A look wakes the scheduler for a job due within this many seconds (two looks: one late
# look still wakes it before the job is due).
WAKE_WITHIN = 2 * POLL_EVERY
_JOB_OPTIONS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}
# The builder's own INFO lines ("Adding job tentatively", "Removed job") describe no real event.
_BUILDER_LOG = logging.getLogger("svyaz.bots.jobs.builder")
_BUILDER_LOG.setLevel(logging.WARNING)


def job_id(customer: str, key: str) -> str:
    return f"{customer}:{key}"


def wake_needed(due_in: float, poll_in: float | None) -> bool:
    """Whether a job due in ``due_in`` seconds must wake the running scheduler now: only when
    it falls before the leader's next poll (due in ``poll_in`` s; None: no poll is planned)."""
    return poll_in is None or due_in < poll_in


class _JobStore(RedisJobStore):  # type: ignore[misc]
    """``RedisJobStore`` on a client made by ``storage.sync_client`` (its own constructor makes
    a plain ``Redis``; a cluster client has no single pool for its ``shutdown`` to drop)."""

    def __init__(self, client: SyncRedis, **options: Any) -> None:
        super().__init__(**options)
        self.redis = client

    def shutdown(self) -> None:
        close_sync_redis(self.redis)


class Jobs:
    """One bot's APScheduler: its job store in Redis, its leader-only running state."""

    def __init__(self, *, redis_url: str, keys: Keys, records: ReminderRecords,
                 func: str) -> None:
        self._bot = keys.bot
        self._func = func
        self._records = records
        self._redis = make_sync_redis(redis_url)  # Sentinel and Cluster URLs too
        self._store = _JobStore(self._redis, jobs_key=keys.sched_jobs,
                                run_times_key=keys.sched_run_times)
        self.scheduler = AsyncIOScheduler(jobstores={"default": self._store}, timezone=UTC,
                                          job_defaults=_JOB_OPTIONS)
        # Never started: its add_job only builds a job (no I/O, no wake-up).
        self._builder = AsyncIOScheduler(timezone=UTC, logger=_BUILDER_LOG)
        self._next_poll: float | None = None  # time.monotonic() of the leader's next poll

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self) -> None:
        """Start paused: jobs can be listed and removed, none runs. No I/O (connects lazily)."""
        self.scheduler.start(paused=True)

    def lead(self) -> None:
        """Run jobs (this process now leads)."""
        self.scheduler.resume()

    def follow(self) -> None:
        """Stop running jobs (leadership lost)."""
        self._next_poll = None
        self.scheduler.pause()

    async def poll(self) -> None:
        """The leader's periodic look for jobs other processes added: the scheduler is woken
        only when the soonest job in the store is due within ``WAKE_WITHIN``.

        A wake-up reads the job store synchronously, on the event loop (APScheduler 3's
        ``RedisJobStore``): waking every second stalled every turn in progress for those
        round trips, once a second (issue 17's tail at half load, ``bench/README.md``). The
        look is one asynchronous read; the scheduler's own timer still fires each job it
        planned, and a job due later is woken for by a later look, in time."""
        try:
            due: float | None = await self._records.first_run_time()
        except StorageError:
            # Woken as before there was a look: the scheduler meets Redis's trouble itself.
            # Raised, it would cost this process its leadership (its lock kept until the TTL).
            due = 0.0
        self._next_poll = time.monotonic() + POLL_EVERY
        if due is not None and wake_needed(due - time.time(), WAKE_WITHIN):
            self.scheduler.wakeup()

    async def close(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop
        close_sync_redis(self._redis)

    async def add(self, customer: str, record: Record, *, new: bool) -> None:
        """Write the reminder's job (and, when ``new``, its record): one round trip."""
        await self.add_all(customer, [record], new=new)

    async def add_all(self, customer: str, records: Sequence[Record], *, new: bool) -> None:
        """``add`` of a customer's reminders together: one round trip for them all."""
        await self._records.put_all(
            customer, [(record, self._build(customer, record)) for record in records], new=new)
        for record in records:
            self._wake_for(record.at)

    async def remove(self, customer: str, key: str) -> None:
        with contextlib.suppress(JobLookupError):
            await asyncio.to_thread(self.scheduler.remove_job, job_id(customer, key))

    async def listed(self) -> list[tuple[str, str, datetime | None]]:
        """Every job in the store: (customer, reminder key, next run time; None: paused)."""
        jobs = await asyncio.to_thread(self.scheduler.get_jobs)
        return [(job.args[1], job.args[2], job.next_run_time) for job in jobs]

    def _build(self, customer: str, record: Record) -> StagedJob:
        """The job as ``RedisJobStore.add_job`` would store it (``replace_existing``)."""
        trigger = DateTrigger(run_date=record.at, timezone=UTC)
        ident = job_id(customer, record.key)
        job = self._builder.add_job(
            self._func, trigger=trigger, args=[self._bot, customer, record.key], id=ident,
            name=f"{record.flow}:{record.key}", executor="default",
            next_run_time=trigger.get_next_fire_time(None, datetime.now(UTC)), **_JOB_OPTIONS,
        )
        self._builder.remove_job(ident)  # a stopped scheduler keeps it as pending otherwise
        run_time = job.next_run_time
        return StagedJob(ident, pickle.dumps(job.__getstate__(), self._store.pickle_protocol),
                         None if run_time is None else datetime_to_utc_timestamp(run_time))

    def _wake_for(self, due: datetime) -> None:
        if self.scheduler.state != STATE_RUNNING:
            return  # paused (not the leader): the leader's own poll finds the job
        due_in = (due - datetime.now(UTC)).total_seconds()
        poll_in = None if self._next_poll is None else self._next_poll - time.monotonic()
        if wake_needed(due_in, poll_in):
            self.scheduler.wakeup()
