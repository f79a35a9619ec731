"""Reminders: schedule, cancel and fire one bot's reminders; one scheduling process.

This module owns the reminder service the rest of bots/ sees, and the leader election. Every
process can add and cancel reminders; the process holding the leader lock
(``storage.leader``) runs APScheduler's jobs (``bots.jobs``); a fired job claims its tick and
becomes a timer event for the runtime (``bots.firing``). What a reminder runs is a JSON record
in storage (``storage.reminders``). It must not send anything itself, nor touch Redis except
through storage.

A reminder, from ``remind:`` to the send — each step an explicit call with explicit values:

1. ``flows.engine.advance`` reaches a step with ``remind:``; ``flows.steps`` asks
   ``flows.effects.schedule`` for the effect ``ScheduleReminder(key, at, flow, vars)`` and
   returns it in the turn's effects (pure data).
2. The turn (``bots.runtime``) runs its effects with ``Effects.run``; ``bots.effects`` passes
   the effect to its ``Reminders`` (this module's ``ReminderService``): ``schedule(customer,
   effect)``.
3. ``ReminderService.schedule`` makes a ``storage.reminders.Record`` and calls
   ``Jobs.add(customer, record, new=True)`` (``bots.jobs``): an APScheduler job carrying only
   ``(bot, customer, key)`` is built without I/O, and ``ReminderRecords.put`` writes the record,
   the customer's index entry and the job in one round trip.
4. The leader (``Leadership``: ``LeaderLock.take`` / ``renew``) has resumed its scheduler and
   ``Jobs.poll``s it every second. At ``at``, APScheduler calls ``fire(bot, customer, key)``
   (``JOB_FUNC``, below: the job names it by reference), which calls
   ``ReminderService.fired`` -> ``Firing.fired``.
5. ``Firing`` reads the record (``ReminderRecords.get``), claims the tick
   (``Ticks.claim(customer, key, due)``, ``SET NX``), and, unless ``decide(due, now, grace)``
   says ``"missed"``, calls ``inject(customer, TimerEvent(flow, key, vars),
   event_id="timer:<key>:<due>")`` — the runtime's ``Runtime.inject``, which pushes the event
   into the customer's inbox. Then ``ReminderRecords.forget_if_same`` drops the record.
6. The runtime's turn for that inbox entry runs the reminder's flow through
   ``flows.engine.advance`` (a ``TimerEvent`` is bot-initiated: ``bots.events.is_initiated``),
   and ``Delivery.initiate`` (``bots.delivery``: ``plan_initiated``, the most recently active
   linked channel first, failing over) sends the replies through the connectors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from bots.background import finish, pause
from bots.firing import FIRE_CONCURRENCY, Firing, Inject
from bots.jobs import POLL_EVERY, Jobs, job_id
from bots.owner import OwnerNote
from flows.types import Ladder, ScheduleReminder
from storage.keys import Keys
from storage.leader import LeaderLock
from storage.reminders import Record, ReminderRecords
from storage.ticks import Ticks

if TYPE_CHECKING:
    from bots.metrics import Metrics
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

JOB_FUNC = "bots.scheduler:fire"  # stored in every job in Redis: renaming it strands them
# Services of this process by bot name, so a fired job (ids only) finds its runtime.
_SERVICES: dict[str, ReminderService] = {}


async def fire(bot: str, customer: str, key: str) -> None:
    """The job function APScheduler calls (by reference ``bots.scheduler:fire``)."""
    service = _SERVICES.get(bot)
    if service is None:
        log.warning("reminder %s fired but bot %s is not running here", key, bot)
        return
    await service.fired(customer, key)


def _record(reminder: ScheduleReminder, zone: tzinfo) -> Record:
    """The stored record of ``reminder`` (a naive time is the business's ``zone``)."""
    at = reminder.at if reminder.at.tzinfo else reminder.at.replace(tzinfo=zone)
    return Record(reminder.key, reminder.flow, at, dict(reminder.vars),
                  reminder.critical, reminder.ladder, reminder.about)


class Leadership:
    """This process's part in the leader election: the leader runs the jobs."""

    def __init__(self, *, lock: LeaderLock, jobs: Jobs, records: ReminderRecords) -> None:
        self._lock = lock
        self._jobs = jobs
        self._records = records
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.leader = False

    def compete(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._lead(), name="scheduler-leader")

    async def stop(self) -> None:
        if self._task is not None:
            await finish([self._task], self._stop)
            self._task = None
        if self.leader:
            await self._lock.release()
            self.leader = False

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
        if self.leader:
            if not await self._lock.renew():
                self._step_down()
                return
            await self._jobs.poll()  # pick up jobs other processes added
            return
        if await self._lock.take():
            self.leader = True
            restored = await self.reconcile()
            log.info("this process now runs the reminder scheduler (%d jobs restored)", restored)
            self._jobs.lead()

    async def reconcile(self) -> int:
        """Re-add the job of every reminder record that has none.

        APScheduler deletes a date job when it hands it to the executor; a process killed
        before the firing was claimed would lose that reminder. Records are the truth.
        """
        jobs = await self._records.job_ids()
        restored = 0
        async for customer, record in self._records.every():
            if job_id(customer, record.key) not in jobs:
                await self._jobs.add(customer, record, new=False)
                restored += 1
        return restored

    def _step_down(self) -> None:
        if self.leader:
            self.leader = False
            self._jobs.follow()
            log.warning("reminder scheduler leadership lost")


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
        ladder_open: Callable[[str, str, Ladder], Awaitable[None]] | None = None,
    ) -> None:
        self.keys: Keys = store.keys
        self._bot = store.keys.bot
        self._metrics = metrics
        self._zone = zone
        self._records = ReminderRecords(store.redis, store.keys)
        self._jobs = Jobs(redis_url=redis_url, keys=store.keys, records=self._records,
                          func=JOB_FUNC)
        self._leadership = Leadership(lock=LeaderLock(store.redis, store.keys),
                                      jobs=self._jobs, records=self._records)
        self._firing = Firing(
            records=self._records, ticks=Ticks(store.redis, store.keys), history=store.history,
            metrics=metrics, inject=inject, clock=clock, grace=grace,
            owner_notify=owner_notify, slots=asyncio.Semaphore(FIRE_CONCURRENCY),
            ladder_open=ladder_open,
        )

    @property
    def leader(self) -> bool:
        return self._leadership.leader

    @property
    def jobs(self) -> Jobs:
        """The APScheduler part (``bots.jobs``)."""
        return self._jobs

    @property
    def scheduler(self) -> Jobs:
        """What ``/healthz`` in ``bots.app`` reads (``.running``); new code: ``jobs``."""
        return self._jobs

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, lead: bool = True) -> None:
        """Start paused (can add jobs); with ``lead``, compete for the leader lock."""
        if lead or self._bot not in _SERVICES:  # a lister must not take a runner's place
            _SERVICES[self._bot] = self
        self._jobs.start()
        if lead:
            self.compete()

    def compete(self) -> None:
        """Take part in the leader election (the leader runs the jobs)."""
        self._leadership.compete()

    async def stop(self) -> None:
        await self._leadership.stop()
        await self._jobs.close()
        if _SERVICES.get(self._bot) is self:
            del _SERVICES[self._bot]

    # ------------------------------------------------------------------ add / cancel

    async def schedule(self, customer: str, reminder: ScheduleReminder) -> None:
        await self.schedule_all(customer, [reminder])

    async def schedule_all(self, customer: str, reminders: Sequence[ScheduleReminder]) -> None:
        """Schedule a turn's reminders together: one round trip (``Jobs.add_all``)."""
        records = [_record(reminder, self._zone) for reminder in reminders]
        await self._jobs.add_all(customer, records, new=True)
        self._metrics.reminders_scheduled.inc(len(records))

    async def cancel(self, customer: str, key: str) -> bool:
        removed = await self._records.delete(customer, key)
        await self._jobs.remove(customer, key)
        return removed

    async def cancel_all(self, customer: str) -> int:
        keys = await self._records.keys_of(customer)
        results = [await self.cancel(customer, k) for k in keys]
        return sum(results)

    async def move(self, source: str, target: str) -> int:
        """After a merge: ``source``'s reminders now belong to ``target`` (whose own win)."""
        moved = 0
        taken = {r.key for r in await self.of_customer(target)}
        for record in await self.of_customer(source):
            if record.key not in taken:
                await self.schedule(target, ScheduleReminder(
                    key=record.key, at=record.at, flow=record.flow, vars=record.vars,
                    critical=record.critical, ladder=record.ladder, about=record.about))
                moved += 1
            await self.cancel(source, record.key)
        return moved

    async def of_customer(self, customer: str) -> list[Record]:
        return await self._records.of_customer(customer)

    async def scheduled(self) -> list[tuple[str, Record | None, datetime | None]]:
        """Every job in the store: (customer, its record, next run time)."""
        found = []
        for customer, key, when in await self._jobs.listed():
            stored = await self._records.get(customer, key)
            found.append((customer, stored.record if stored else None, when))
        return found

    # ------------------------------------------------------------------ firing

    async def fired(self, customer: str, key: str) -> None:
        """A job ran: claim, then deliver or record as missed (``bots.firing``)."""
        await self._firing.fired(customer, key)
