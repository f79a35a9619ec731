"""Noticing bot-wide troubles and telling the owner once per incident (issue 15).

A channel whose platform refuses the token (VK error 5, MAX 401) or that stays down, Redis
near its memory limit (looked at every ``LOOK_EVERY`` seconds), and, reported by the SMS
rungs as they happen, an empty SMS balance or a spent monthly budget. Each opens an incident
in Redis (``storage.incidents``): the one process that opened it sends the owner a note, the
desk shows it while it is open, and when the trouble is gone the one process that closes it
says so. A channel must fail ``STREAK`` looks in a row, so one slow poll is no alarm.

Reminders and notices that reached nobody (``watching``: the owner's "undeliverable" notes,
one per customer, say who) open ``UNREACHED`` without a note of its own, for the desk's
banner; it closes quietly ``UNREACHED_SHOWN`` after it opened, and opens again with the next.

It must not fix anything nor decide what the customers are told.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from bots.owner import OwnerNote
from bots.texts import INCIDENT_TEXTS
from connectors.base import Connector
from connectors.registry import INSTALLED
from flows.types import Channel
from storage.errors import StorageError

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

LOOK_EVERY = 30.0  # seconds between looks at the channels and Redis
STREAK = 2  # failed looks in a row before a channel is an incident
MEMORY_HIGH, MEMORY_OK = 0.9, 0.8  # of maxmemory: open at, close below
UNREACHED = "reminders:unreached"
UNREACHED_SHOWN = 24 * 3600.0  # seconds the desk shows that reminders reached nobody

Notify = Callable[[OwnerNote], Awaitable[None]]


def incident_text(kind: str, detail: str = "") -> str:
    """The owner's words for ``kind`` (``channel:<name>`` by its channel's title)."""
    family, _, name = kind.partition(":")
    if family == "channel":
        info = INSTALLED.get(name)
        return INCIDENT_TEXTS["channel"].format(title=info.title if info else name,
                                                detail=detail)
    return INCIDENT_TEXTS[kind].format(detail=detail)


class Incidents:
    """Opens and closes incidents; ``look`` is the periodic part."""

    def __init__(self, *, store: Store, connectors: Mapping[Channel, Connector],
                 notify: Notify | None, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._connectors = connectors
        self._notify = notify
        self._clock = clock
        self._failing: dict[str, int] = {}

    async def trouble(self, kind: str, detail: str = "") -> None:
        """``kind`` is wrong now: open it, and tell the owner if this call opened it."""
        text = incident_text(kind, detail)
        if await self._store.incidents.open(kind, text, self._clock()):
            log.warning("incident %s opened", kind)
            if self._notify is not None:
                await self._notify(OwnerNote("incident", "", text))

    async def fine(self, kind: str) -> None:
        """``kind`` works again: close it, and tell the owner if this call closed it."""
        if await self._store.incidents.close(kind):
            log.info("incident %s closed", kind)
            if self._notify is not None:
                await self._notify(OwnerNote("resolved", "", incident_text(kind, "")))

    def watching(self, notify: Notify) -> Notify:
        """``notify``, and a note that a reminder or notice reached nobody also opens
        ``UNREACHED`` (quietly: that note tells the owner already)."""

        async def noted(note: OwnerNote) -> None:
            if note.kind == "undeliverable":
                try:
                    await self._store.incidents.open(UNREACHED, incident_text(UNREACHED),
                                                      self._clock())
                except StorageError as exc:  # the note still goes
                    log.info("unreached reminders not marked: %s", type(exc).__name__)
            await notify(note)

        return noted

    async def look(self) -> None:
        """One look at every channel, at Redis's memory and at how long ``UNREACHED`` has
        been shown."""
        for channel, connector in self._connectors.items():
            health = connector.health()
            kind = f"channel:{channel}"
            if health.get("ok"):
                self._failing.pop(kind, None)
                await self.fine(kind)
                continue
            self._failing[kind] = streak = self._failing.get(kind, 0) + 1
            if streak >= STREAK:
                await self.trouble(kind, str(health.get("detail", "")))
        try:
            await self._look_at_memory()
            await self._look_at_unreached()
        except StorageError as exc:  # Redis itself is the trouble: /healthz says so
            log.info("memory and unreached reminders not looked at: %s", type(exc).__name__)

    async def _look_at_unreached(self) -> None:
        for incident in await self._store.incidents.current():
            if incident.kind == UNREACHED and self._clock() - incident.since > UNREACHED_SHOWN:
                await self._store.incidents.close(UNREACHED)  # (quietly, as it opened)

    async def _look_at_memory(self) -> None:
        used, limit = await self._store.incidents.memory()
        if not limit:
            return  # no limit set: Redis grows with the machine
        share = used / limit
        if share >= MEMORY_HIGH:
            await self.trouble("redis:memory", f"занято {share:.0%} из {limit // 2**20} МБ")
        elif share < MEMORY_OK:
            await self.fine("redis:memory")
