"""bots.scheduler: APScheduler on Redis — fires once, replace/cancel by key, grace on start."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bots_harness import FLOWS, ZONE, Harness

from bots.cmd_run import _list_reminders
from bots.config import Settings
from bots.firing import decide
from bots.linking import LINK_YES
from bots.metrics import Metrics
from bots.reminder_list import NoData, source_line
from bots.scheduler import ReminderService
from flows.types import ButtonEvent, Ladder, ScheduleReminder, StartEvent
from tests.roundtrips import RoundTrips


async def _customer(harness: Harness) -> str:
    harness.clock.now = datetime.now(ZONE)
    await harness.send("web", "s1", StartEvent())
    return await harness.customer("web", "s1")


def _remind(seconds: float, key: str = "k") -> ScheduleReminder:
    return ScheduleReminder(key=key, at=datetime.now(ZONE) + timedelta(seconds=seconds),
                            flow="ping", vars={"n": 1})


async def _wait_for(predicate, timeout: float = 8.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


async def test_a_reminder_a_couple_of_seconds_ahead_fires_once(harness: Harness) -> None:
    customer = await _customer(harness)
    await harness.reminders.schedule(customer, _remind(1.5))
    assert await harness.store.reminders.list(customer) == ["k"]
    harness.reminders.compete()
    assert await _wait_for(lambda: "Напоминание!" in harness.texts("web", "s1"))
    await asyncio.sleep(1.5)
    await harness.runtime.idle()
    assert harness.texts("web", "s1").count("Напоминание!") == 1
    assert harness.metrics.reminders_fired._value.get() == 1
    assert await harness.reminders.of_customer(customer) == []
    assert await harness.store.reminders.list(customer) == []


async def test_two_schedulers_alive_deliver_once(harness: Harness, redis_url: str) -> None:
    customer = await _customer(harness)
    other = ReminderService(store=harness.store, redis_url=redis_url, metrics=Metrics(),
                            inject=harness.runtime.inject, zone=ZONE)
    await other.start(lead=False)
    try:
        await harness.reminders.schedule(customer, _remind(1.0))
        for service in (harness.reminders, other):  # both run jobs, as after a split brain
            service.jobs.lead()
        assert await _wait_for(lambda: "Напоминание!" in harness.texts("web", "s1"))
        await asyncio.sleep(1.5)
        await harness.runtime.idle()
        assert harness.texts("web", "s1").count("Напоминание!") == 1
    finally:
        await other.stop()


async def test_replace_and_cancel_by_key(harness: Harness) -> None:
    customer = await _customer(harness)
    await harness.reminders.schedule(customer, _remind(1.0))
    await harness.reminders.schedule(customer, _remind(3600))  # re-booking moves it
    jobs = await harness.reminders.scheduled()
    assert len(jobs) == 1
    assert jobs[0][2] is not None
    assert jobs[0][2] > datetime.now(ZONE) + timedelta(minutes=59)
    await harness.reminders.schedule(customer, _remind(1.0, key="other"))
    assert await harness.reminders.cancel(customer, "other") is True
    harness.reminders.compete()
    await asyncio.sleep(2.5)
    await harness.runtime.idle()
    assert "Напоминание!" not in harness.texts("web", "s1")
    assert await harness.reminders.cancel_all(customer) == 1
    assert await harness.reminders.scheduled() == []


async def test_restart_delivers_within_grace_and_records_older_as_missed(
    harness: Harness, redis_url: str
) -> None:
    customer = await _customer(harness)
    now = datetime.now(ZONE)
    # Scheduled by a process that then died; the jobs wait in Redis.
    await harness.reminders.schedule(
        customer, ScheduleReminder(key="recent", at=now - timedelta(minutes=10), flow="ping"))
    await harness.reminders.schedule(
        customer, ScheduleReminder(key="old", at=now - timedelta(hours=3), flow="ping"))
    await harness.reminders.stop()
    restarted = ReminderService(store=harness.store, redis_url=redis_url,
                                metrics=harness.metrics, inject=harness.runtime.inject,
                                zone=ZONE, grace=3600)
    harness.reminders = restarted
    await restarted.start(lead=True)
    assert await _wait_for(lambda: restarted.leader)
    assert await _wait_for(lambda: harness.metrics.reminders_missed._value.get() == 1)
    assert await _wait_for(lambda: "Напоминание!" in harness.texts("web", "s1"))
    await harness.runtime.idle()
    assert harness.texts("web", "s1").count("Напоминание!") == 1
    history = await harness.store.history.read(customer, count=100)
    assert any("reminder old missed" in e.note for e in history)


def test_grace_decision() -> None:
    due = datetime(2026, 1, 1, 10, 0, tzinfo=ZONE)
    assert decide(due, due + timedelta(minutes=59), 3600) == "deliver"
    assert decide(due, due + timedelta(minutes=61), 3600) == "missed"
    assert decide(due, due - timedelta(minutes=5), 3600) == "deliver"


async def test_svyaz_reminders_lists_what_is_scheduled(
    harness: Harness, redis_url: str, bot_prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SVYAZ_LANG", "en")
    customer = await _customer(harness)
    visit = datetime(2031, 5, 6, 12, 30, tzinfo=ZONE)
    await harness.reminders.schedule(
        customer, replace(_remind(7200, key="visit-24h"), about=visit))
    await harness.store.profiles.set_field(customer, "name", "Мария")
    settings = Settings(_env_file=None, redis_url=redis_url, bot=bot_prefix,  # type: ignore[call-arg]
                        flows=FLOWS, data_dir=tmp_path)
    lines = await _list_reminders(settings)
    assert len(lines) == 1
    assert "ping" in lines[0]
    assert "visit-24h" in lines[0]
    assert lines[0].endswith(f"Мария, web, customer {customer}")
    assert "about 2031-05-06 12:30" in lines[0]
    assert "SVYAZ_REDIS_URL" in source_line(settings)


async def test_svyaz_reminders_speaks_russian_by_default(
    harness: Harness, redis_url: str, bot_prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SVYAZ_LANG", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")  # a server's English locale changes nothing
    customer = await _customer(harness)
    visit = datetime(2031, 5, 6, 12, 30, tzinfo=ZONE)
    await harness.reminders.schedule(
        customer, replace(_remind(7200, key="visit-24h"), about=visit))
    settings = Settings(_env_file=None, redis_url=redis_url, bot=bot_prefix,  # type: ignore[call-arg]
                        flows=FLOWS, data_dir=tmp_path)
    (line,) = await _list_reminders(settings)
    assert "визит 2031-05-06 12:30" in line
    assert line.endswith(f"(без имени), чат на сайте, клиент {customer}")
    assert source_line(settings) == f"данные: сервер Redis из SVYAZ_REDIS_URL (бот '{bot_prefix}')"
    missing = Settings(_env_file=None, flows=FLOWS, data_dir=tmp_path / "none")  # type: ignore[call-arg]
    with pytest.raises(NoData, match="нет папки данных"):
        await _list_reminders(missing)


async def test_svyaz_reminders_never_creates_a_data_folder(tmp_path: Path) -> None:
    missing = tmp_path / "data"
    settings = Settings(_env_file=None, flows=FLOWS, data_dir=missing)  # type: ignore[call-arg]
    with pytest.raises(NoData, match=str(missing)):
        await _list_reminders(settings)
    assert not missing.exists()
    assert str(missing) in source_line(settings)


async def test_reminders_follow_a_merge(harness: Harness) -> None:
    web_customer = await _customer(harness)
    await harness.reminders.schedule(web_customer, _remind(3600, key="visit"))
    await harness.send("vk", "100", StartEvent())
    vk_customer = await harness.customer("vk", "100")
    token = await harness.store.identities.issue_link_token(vk_customer)
    await harness.send("web", "s1", StartEvent(payload=f"link-{token}"))
    await harness.send("web", "s1", ButtonEvent(LINK_YES))  # issue 13: the merge is confirmed
    assert await harness.customer("web", "s1") == vk_customer
    assert [r.key for r in await harness.reminders.of_customer(vk_customer)] == ["visit"]
    assert await harness.reminders.of_customer(web_customer) == []
    assert [(c, r.key if r else None) for c, r, _ in await harness.reminders.scheduled()] == [
        (vk_customer, "visit")]
    assert await harness.store.reminders.list(vk_customer) == ["visit"]


async def test_a_job_picked_before_its_reminder_moved_does_not_fire_early(
    harness: Harness,
) -> None:
    customer = await _customer(harness)
    await harness.reminders.schedule(customer, _remind(3600))
    await harness.reminders.fired(customer, "k")  # the old job, run just after the move
    await harness.runtime.idle()
    assert "Напоминание!" not in harness.texts("web", "s1")
    assert [r.key for r in await harness.reminders.of_customer(customer)] == ["k"]


async def test_a_leader_restores_jobs_lost_between_pick_and_claim(harness: Harness) -> None:
    customer = await _customer(harness)
    await harness.reminders.schedule(customer, _remind(1.0))
    # As when a process dies right after APScheduler took the job out of the store:
    await harness.reminders.jobs.remove(customer, "k")
    assert await harness.reminders.scheduled() == []
    harness.reminders.compete()
    assert await _wait_for(lambda: "Напоминание!" in harness.texts("web", "s1"))
    assert harness.texts("web", "s1").count("Напоминание!") == 1


RAN: list[str] = []


async def record_run(bot: str, customer: str, key: str) -> None:
    """A job function for ``Jobs`` (named by reference, as ``bots.scheduler:fire`` is)."""
    RAN.append(key)


async def test_a_new_job_wakes_the_scheduler_only_when_due_before_its_planned_wake_up(
    harness: Harness, redis_url: str
) -> None:
    from bots.jobs import Jobs
    from storage.reminders import Record, ReminderRecords

    RAN.clear()
    store = harness.store
    jobs = Jobs(redis_url=redis_url, keys=store.keys, func="test_scheduler:record_run",
                records=ReminderRecords(store.redis, store.keys))
    jobs.start()
    jobs.lead()
    woken = _count_wakeups(jobs)
    try:
        async def add(name: str, seconds: float) -> None:  # as ReminderService.schedule does
            at = datetime.now(ZONE) + timedelta(seconds=seconds)
            await jobs.add("c1", Record(name, "ping", at, {}), new=True)

        await jobs.poll()  # the leader's look: plans the next one within POLL_EVERY
        await add("first", 3600)
        await asyncio.sleep(0.05)
        before = len(woken)
        for n in range(5):  # later than the planned wake-up: no wake-up at all
            await add(f"later{n}", 7200 + n)
        await asyncio.sleep(0.05)
        assert len(woken) == before
        await add("soon", 0.3)  # earlier: wakes and runs on time
        assert await _wait_for(lambda: RAN == ["soon"], timeout=2.0)
    finally:
        await jobs.close()


async def test_the_leaders_look_wakes_the_scheduler_only_for_a_job_due_soon(
    harness: Harness, redis_url: str
) -> None:
    """A wake-up reads APScheduler's job store synchronously on the event loop; the leader's
    look every second does so only when a job (added by any process) is due soon, and that
    job still runs on time."""
    from bots.jobs import WAKE_WITHIN, Jobs
    from storage.reminders import Record, ReminderRecords

    RAN.clear()
    store = harness.store
    records = ReminderRecords(store.redis, store.keys)
    jobs = Jobs(redis_url=redis_url, keys=store.keys, func="test_scheduler:record_run",
                records=records)
    other = Jobs(redis_url=redis_url, keys=store.keys, func="test_scheduler:record_run",
                 records=records)  # another process's, never started: it only writes jobs
    jobs.start()
    jobs.lead()
    await asyncio.sleep(0.05)  # (resuming wakes it once)
    woken = _count_wakeups(jobs)
    try:
        async def add(name: str, seconds: float) -> None:
            at = datetime.now(ZONE) + timedelta(seconds=seconds)
            await other.add("c1", Record(name, "ping", at, {}), new=True)

        await jobs.poll()  # nothing in the store
        await add("later", 3600)
        await jobs.poll()
        assert woken == []
        await add("soon", WAKE_WITHIN / 2)
        await jobs.poll()
        assert len(woken) == 1
        assert await _wait_for(lambda: RAN == ["soon"], timeout=WAKE_WITHIN + 1)
    finally:
        await jobs.close()
        await other.close()


async def test_a_look_that_redis_fails_wakes_the_scheduler_instead_of_raising(
    redis_url: str,
) -> None:
    """A look that raised would make the leader step down while its lock stays taken until
    its TTL: no process would run reminders meanwhile."""
    from bots.jobs import Jobs
    from storage.errors import StorageUnavailable
    from storage.keys import Keys

    class Failing:
        async def first_run_time(self) -> float | None:
            raise StorageUnavailable("Redis is down")

    jobs = Jobs(redis_url=redis_url, keys=Keys("t"), func="test_scheduler:record_run",
                records=Failing())  # type: ignore[arg-type]
    woken: list[bool] = []
    jobs.scheduler.wakeup = lambda: woken.append(True)  # type: ignore[method-assign]
    try:
        await jobs.poll()
        assert woken == [True]
    finally:
        await jobs.close()


def test_a_job_wakes_the_scheduler_only_before_the_next_poll() -> None:
    from bots.jobs import wake_needed

    assert wake_needed(0.3, 1.0)
    assert not wake_needed(1.0, 1.0)
    assert not wake_needed(3600, 0.5)
    assert wake_needed(3600, None)  # no poll planned (not the leader's loop): always


async def test_a_staged_job_is_what_apschedulers_own_redis_store_reads(
    harness: Harness, redis_url: str
) -> None:
    import redis as redis_sync
    from apscheduler.jobstores.redis import RedisJobStore

    customer = await _customer(harness)
    reminder = _remind(600)
    await harness.reminders.schedule(customer, reminder)
    keys = harness.reminders.keys
    plain = RedisJobStore(jobs_key=keys.sched_jobs, run_times_key=keys.sched_run_times)
    plain.redis = redis_sync.Redis.from_url(redis_url)
    try:
        plain._scheduler = harness.reminders.jobs.scheduler
        plain._alias = "default"
        job = plain.lookup_job(f"{customer}:k")
        assert job is not None
        assert job.args == (harness.store.keys.bot, customer, "k")
        assert job.func_ref == "bots.scheduler:fire"
        assert abs((job.next_run_time - reminder.at).total_seconds()) < 1e-3
        assert plain.get_next_run_time() == job.next_run_time
    finally:
        plain.redis.close()


async def test_a_critical_reminder_keeps_its_ladder_stored_and_through_a_merge(
    harness: Harness,
) -> None:
    """Issue 14: the ladder a flow gives a critical reminder survives its record in Redis and
    a merge that moves it to another customer (before, both dropped it)."""
    ladder = Ladder(rungs=("messenger", "sms", "email"), within=timedelta(hours=2))
    web_customer = await _customer(harness)
    critical = replace(_remind(3600, key="visit"), critical=True, ladder=ladder)
    await harness.reminders.schedule(web_customer, critical)
    await harness.reminders.schedule(web_customer, _remind(3600, key="plain"))
    stored = {r.key: r for r in await harness.reminders.of_customer(web_customer)}
    assert (stored["visit"].critical, stored["visit"].ladder) == (True, ladder)
    assert (stored["plain"].critical, stored["plain"].ladder) == (False, None)
    await harness.send("vk", "100", StartEvent())
    vk_customer = await harness.customer("vk", "100")
    token = await harness.store.identities.issue_link_token(vk_customer)
    await harness.send("web", "s1", StartEvent(payload=f"link-{token}"))
    await harness.send("web", "s1", ButtonEvent(LINK_YES))
    moved = {r.key: r for r in await harness.reminders.of_customer(vk_customer)}
    assert (moved["visit"].critical, moved["visit"].ladder) == (True, ladder)


async def test_a_turn_s_reminders_are_written_in_one_round_trip(
    harness: Harness, round_trips: RoundTrips
) -> None:
    """``schedule_all``: the records, the index and the jobs of a booking's two reminders
    in one pipeline (two before: one per reminder), and both fire as scheduled."""
    customer = await _customer(harness)
    before = round_trips.count
    await harness.reminders.schedule_all(customer, [_remind(3600, key="a"),
                                                    _remind(7200, key="b")])
    assert round_trips.count - before == 1
    assert [r.key for r in await harness.reminders.of_customer(customer)] == ["a", "b"]
    listed = {(c, r.key if r else None) for c, r, _ in await harness.reminders.scheduled()}
    assert {(customer, "a"), (customer, "b")} <= listed


def _count_wakeups(jobs: Any) -> list[float]:
    """When ``jobs``' scheduler is woken from now on (the loop's time of each wake-up)."""
    woken: list[float] = []
    wakeup = jobs.scheduler.wakeup

    def counted() -> None:
        woken.append(asyncio.get_running_loop().time())
        wakeup()

    jobs.scheduler.wakeup = counted
    return woken
