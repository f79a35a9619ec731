"""Reminders at scale: scheduling cost, and a minute's worth of due reminders on a 30 req/s MAX.

Part 1 (in this process, fresh embedded Redis): ``--schedule`` reminders through the
runtime's own ``bots.scheduler.ReminderService.schedule`` (APScheduler RedisJobStore + JSON
record) -> seconds, reminders/s, this process's RSS growth, Redis ``used_memory`` per reminder.

Part 2: ``svyaz run`` in MAX webhook mode with its shipped rate limiter, against the project's
MAX fake which here enforces MAX's 30 requests/s (429 above it). ``--due`` MAX customers get
one reminder each, due at random moments of the same minute (added through the same
``ReminderService`` API on svyaz's Redis: any process may add jobs; svyaz's leader runs them).
Meanwhile one customer plays the booking dialogue over and over, ``--think`` seconds per
answer. Prints the drain time (first
due -> last reminder delivered) against max(window, ``due / 30``) s, 429s, lost (customers with no
reminder), doubled (more than one), the most requests the fake saw in any second, and the live
dialogue's reply latency. Loopback only; bounded by ``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis  # noqa: E402

from bench.common import (  # noqa: E402
    bot_core,
    emit,
    free_port,
    percentile,
    pin,
    start_bot,
    start_max_fake,
    svyaz_argv,
    svyaz_env,
    temp_dir,
)
from bench.load import Result, dialogue, max_poster  # noqa: E402
from bots.metrics import Metrics  # noqa: E402
from bots.scheduler import ReminderService  # noqa: E402
from flows.types import Event, ScheduleReminder  # noqa: E402
from storage.embedded import EmbeddedRedis  # noqa: E402
from storage.store import Store  # noqa: E402

ZONE = ZoneInfo("Europe/Moscow")
VARS = {"service": "Стрижка", "day": "2026-12-01", "time": "12:30"}
REMINDER_TEXT = "Напоминаем о записи"
MAX_RPS = 30


async def nowhere(customer: str, event: Event, *, event_id: str) -> bool:
    return False


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def used_memory(url: str) -> int:
    client = Redis.from_url(url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def schedule_many(service: ReminderService, customers: list[str],
                        when: list[datetime], concurrency: int = 32) -> None:
    queue = list(zip(customers, when, strict=True))

    async def worker() -> None:
        while queue:
            customer, at = queue.pop()
            reminder = ScheduleReminder(key="visit-24h", at=at, flow="visit_reminder", vars=VARS)
            await service.schedule(customer, reminder)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def part_schedule(count: int, work: Path) -> None:
    redis = EmbeddedRedis(work / "sched", persist=True)
    redis.start()
    store = Store.from_url(redis.url)
    service = ReminderService(store=store, redis_url=redis.url, metrics=Metrics(),
                              inject=nowhere, zone=ZONE)
    await service.start(lead=False)
    try:
        mem0, rss0 = await used_memory(redis.url), rss_mb()
        customers = [f"c{n:07d}" for n in range(count)]
        base = datetime.now(UTC) + timedelta(days=30)
        when = [base + timedelta(seconds=n) for n in range(count)]
        started = time.perf_counter()
        await schedule_many(service, customers, when)
        elapsed = time.perf_counter() - started
        mem1 = await used_memory(redis.url)
        jobs = await store.redis.zcard(service.keys.sched_run_times)
        emit("scheduled", count)
        emit("jobs_in_store", jobs)
        emit("schedule_seconds", elapsed)
        emit("reminders_scheduled_per_second", count / elapsed)
        emit("scheduler_process_rss_growth_mb", rss_mb() - rss0)
        emit("redis_bytes_per_reminder", (mem1 - mem0) / count)
    finally:
        await service.stop()
        await store.close()
        redis.stop()


async def live_dialogues(url: str, fake_inbox: object, stop: asyncio.Event,
                         result: Result, think: float) -> None:
    post = max_poster(url)
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            await dialogue(session, post, fake_inbox, result, think)  # type: ignore[arg-type]
            await asyncio.sleep(max(0.5, think))


async def part_drain(args: argparse.Namespace, core: int | None, work: Path) -> None:
    fake, runner = await start_max_fake()
    fake.limit_rps = MAX_RPS
    port = free_port()
    env = svyaz_env(data_dir=work / "bot", port=port, max_url=fake.url)
    bot = await start_bot(svyaz_argv(), env, data_dir=work / "bot", port=port, core=core)
    pin(bot.proc.pid, core)
    url = f"unix://{work / 'bot' / 'redis.sock'}"
    store = Store.from_url(url)
    service = ReminderService(store=store, redis_url=url, metrics=Metrics(),
                              inject=nowhere, zone=ZONE)
    await service.start(lead=False)
    users = list(range(50_000_000, 50_000_000 + args.due))
    stop, live = asyncio.Event(), Result()
    try:
        customers = [await store.identities.resolve(f"max:{u}") for u in users]
        first_due = datetime.now(UTC) + timedelta(seconds=args.lead)
        when = [first_due + timedelta(seconds=random.uniform(0, args.window)) for _ in users]
        started = time.perf_counter()
        await schedule_many(service, customers, when)
        emit("due_scheduled_seconds", time.perf_counter() - started)
        first_due_perf = time.perf_counter() + (first_due - datetime.now(UTC)).total_seconds()
        if first_due_perf < time.perf_counter():
            emit("warning", "scheduling outlasted --lead; drain time counts from first due")
        live_task = asyncio.create_task(live_dialogues(bot.url, fake.inbox, stop, live,
                                                        args.think))
        ideal = max(args.window, args.due / MAX_RPS)
        deadline = time.perf_counter() + args.lead + ideal * 1.5 + args.timeout
        while time.perf_counter() < deadline:
            delivered = sum(fake.inbox.count_of(u, REMINDER_TEXT) > 0 for u in users)
            if delivered == len(users):
                break
            await asyncio.sleep(1.0)
        stop.set()
        await live_task
        arrivals = [t for u in users for t, text in fake.inbox.replies.get(u, ())
                    if REMINDER_TEXT in text]
        counts = [fake.inbox.count_of(u, REMINDER_TEXT) for u in users]
        drain = (max(arrivals) - first_due_perf) if arrivals else float("nan")
        emit("due_reminders", len(users))
        emit("drain_seconds", drain)
        emit("ideal_drain_seconds", ideal)
        emit("drain_over_ideal", drain / ideal)
        emit("responses_429", fake.throttled)
        emit("max_requests_in_any_second", fake.max_in_window(1.0, "/messages"))
        emit("lost", sum(c == 0 for c in counts))
        emit("doubled", sum(c > 1 for c in counts))
        emit("live_think_seconds", args.think)
        emit("live_messages", live.messages)
        emit("live_errors", live.errors)
        emit("live_p50_ms", percentile(live.latencies, 50) * 1000)
        emit("live_p99_ms", percentile(live.latencies, 99) * 1000)
        emit("live_max_ms", max(live.latencies, default=float("nan")) * 1000)
    finally:
        stop.set()
        await service.stop()
        await store.close()
        bot.stop()
        await runner.cleanup()
        if args.keep_log:
            shutil.copy(bot.log_path, args.keep_log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schedule", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--lead", type=float, default=90.0,
                        help="seconds from start of part 2 to the first due reminder")
    parser.add_argument("--window", type=float, default=59.0,
                        help="due times are spread over this many seconds")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--think", type=float, default=2.0,
                        help="seconds the live customer takes to answer each reply (a person "
                             "typing; 0 = a closed loop, which spends ~9 of the 30 sends/s on "
                             "the live dialogue and so stretches the drain)")
    parser.add_argument("--keep-log", help="copy svyaz's log here at the end")
    args = parser.parse_args()
    core = bot_core()
    with temp_dir("svyaz-reminders-") as work:
        if args.schedule:
            asyncio.run(part_schedule(args.schedule, work))
        if args.due:
            asyncio.run(part_drain(args, core, work))


if __name__ == "__main__":
    main()
