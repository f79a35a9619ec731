"""A reminder's job ran: claim its tick, then hand it to the runtime or record it as missed.

This module owns what happens when a reminder falls due. The job's ids find the reminder's
record (``storage.reminders``); ``(reminder key, due time)`` is claimed once across processes
(``storage.ticks``), so even two leaders briefly alive deliver once. A claimed reminder
becomes a ``TimerEvent`` injected into the customer's inbox (the runtime's ``inject``; the turn
it starts sends through ``bots.delivery``), unless it is older than the grace period (pure
``decide``): then it is recorded as missed in the history. It must not send anything itself,
nor touch Redis except through storage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from bots.owner import OwnerNote
from flows.backoff import backoff_delay
from flows.types import Event, Ladder, TimerEvent
from storage.errors import StorageError
from storage.history import History, HistoryEntry
from storage.reminders import Record, ReminderRecords
from storage.ticks import Ticks

if TYPE_CHECKING:
    from bots.metrics import Metrics

log = logging.getLogger("svyaz.bots")

FIRE_CONCURRENCY = 16
EARLY_TOLERANCE = 5.0  # seconds; a record due later than this belongs to a newer job
FIRE_ATTEMPTS = 4
FIRE_RETRY_FIRST = 0.5  # seconds; doubling after each failed attempt
FIRE_RETRY_LAST = FIRE_RETRY_FIRST * 2 ** (FIRE_ATTEMPTS - 1)  # never capped lower


def decide(due: datetime, now: datetime, grace: float) -> Literal["deliver", "missed"]:
    """``"deliver"`` or ``"missed"``: a reminder later than ``grace`` seconds is not sent."""
    return "missed" if (now - due).total_seconds() > grace else "deliver"


class Inject(Protocol):
    """The runtime's ``inject``: push a bot-initiated event into the customer's inbox; False
    when the customer has no linked channel."""

    def __call__(self, customer: str, event: Event, *, event_id: str) -> Awaitable[bool]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Firing:
    """Fires one bot's due reminders."""

    records: ReminderRecords
    ticks: Ticks
    history: History
    metrics: Metrics
    inject: Inject
    clock: Callable[[], datetime]
    grace: float
    owner_notify: Callable[[OwnerNote], Awaitable[None]] | None
    slots: asyncio.Semaphore
    # A critical reminder with a ladder opens its notice first (``bots.ladder``).
    ladder_open: Callable[[str, str, Ladder], Awaitable[None]] | None = None

    async def fired(self, customer: str, key: str) -> None:
        """Claim, then deliver or record as missed. A few at a time (a burst of 10,000 due
        jobs must not exhaust Redis connections), retried on Redis trouble."""
        async with self.slots:
            for attempt in range(FIRE_ATTEMPTS):
                try:
                    await self._fire(customer, key)
                    return
                except StorageError as exc:
                    log.warning("reminder %s of %s: attempt %d failed: %s", key, customer,
                                attempt + 1, type(exc).__name__)
                    await asyncio.sleep(backoff_delay(attempt, base=FIRE_RETRY_FIRST,
                                                      cap=FIRE_RETRY_LAST, jitter=False))
            self.metrics.reminders_failed.inc()
            log.error("reminder %s of %s could not be fired", key, customer)

    async def _fire(self, customer: str, key: str) -> None:
        stored = await self.records.get(customer, key)
        if stored is None:
            return  # cancelled after the job was picked
        record = stored.record
        if (record.at - self.clock()).total_seconds() > EARLY_TOLERANCE:
            return  # moved to a later time after this job was picked; its new job will fire
        due = record.at.isoformat()
        if not await self.ticks.claim(customer, key, due):
            # Fired already (maybe by a process that died before tidying up).
            await self.records.forget_if_same(customer, stored)
            return
        try:
            await self._deliver_or_miss(customer, record, due)
        except Exception:  # not handed over: free the tick so a retry can claim it
            await self.ticks.release(customer, key, due)
            raise
        await self.records.forget_if_same(customer, stored)

    async def _deliver_or_miss(self, customer: str, record: Record, due: str) -> None:
        if decide(record.at, self.clock(), self.grace) == "missed":
            await self._missed(customer, record)
            return
        event = TimerEvent(flow=record.flow, key=record.key, vars=record.vars)
        event_id = f"timer:{record.key}:{due}"
        if record.critical and record.ladder is not None and self.ladder_open is not None:
            await self.ladder_open(customer, event_id, record.ladder)
        if await self.inject(customer, event, event_id=event_id):
            self.metrics.reminders_fired.inc()
        else:
            await self._missed(customer, record, why="no linked channel")

    async def _missed(self, customer: str, record: Record, *, why: str = "") -> None:
        self.metrics.reminders_missed.inc()
        note = f"reminder {record.key} missed ({record.flow}, due {record.at.isoformat()})"
        if why:
            note += f": {why}"
        log.warning(note, extra={"customer": customer})
        entry = HistoryEntry(ts=time.time(), channel="-", direction="event", text="", note=note)
        await self.history.append(customer, entry)
        # After an outage there may be thousands: the owner hears only of one nobody can get.
        if why and self.owner_notify is not None:
            await self.owner_notify(OwnerNote("undeliverable", customer, note))

