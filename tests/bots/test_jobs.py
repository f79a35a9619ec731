"""bots.jobs: a job built without I/O is stored exactly as APScheduler's own add_job stores it."""

from __future__ import annotations

import asyncio
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import redis as redis_sync
from apscheduler.jobstores.redis import RedisJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bots.jobs import Jobs
from storage.client import make_redis
from storage.keys import Keys
from storage.reminders import Record, ReminderRecords

FUNC = "bots.scheduler:fire"


def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "trigger": state["trigger"].__getstate__()}


async def test_a_built_job_is_what_apschedulers_add_job_writes(
    redis_url: str, bot_prefix: str
) -> None:
    ours, theirs = Keys(bot_prefix), Keys(f"{bot_prefix}x")
    at = datetime.now(UTC) + timedelta(hours=2)
    redis = make_redis(redis_url)
    jobs = Jobs(redis_url=redis_url, keys=ours, records=ReminderRecords(redis, ours), func=FUNC)
    plain = AsyncIOScheduler(timezone=UTC, job_defaults={
        "coalesce": True, "misfire_grace_time": None, "max_instances": 1})
    plain.add_jobstore(RedisJobStore(jobs_key=theirs.sched_jobs,
                                     run_times_key=theirs.sched_run_times,
                                     connection_pool=redis_sync.ConnectionPool.from_url(redis_url)))
    jobs.start()
    plain.start(paused=True)
    try:
        await jobs.add("c1", Record("visit", "ping", at, {}), new=True)
        await asyncio.to_thread(  # as the old ReminderService did, through the scheduler
            plain.add_job, FUNC, trigger=DateTrigger(run_date=at, timezone=UTC),
            args=[bot_prefix, "c1", "visit"], id="c1:visit", name="ping:visit",
            replace_existing=True)
        mine = pickle.loads(await redis.hget(ours.sched_jobs, "c1:visit"))
        old = pickle.loads(await redis.hget(theirs.sched_jobs, "c1:visit"))
        assert _comparable(mine) == _comparable(old)
        assert await redis.zscore(ours.sched_run_times, "c1:visit") == await redis.zscore(
            theirs.sched_run_times, "c1:visit")
        assert [key for _, key, _ in await jobs.listed()] == ["visit"]
    finally:
        plain.shutdown(wait=False)
        await jobs.close()
        await redis.delete(theirs.sched_jobs, theirs.sched_run_times)
        await redis.aclose()
