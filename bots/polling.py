"""One poller per bot across processes: VK's Bots Long Poll and MAX's long polling allow one
consumer, so only the process holding the platform's poll lock polls.

Every process runs ``lead_polling`` for each connector in polling mode (built with
``elected=True``, so its ``start`` leaves polling alone): it takes the lock
(``storage.leader.LeaderLock.poller``), renews it every ``RENEW_EVERY`` seconds while it
polls, and stops polling the moment a renewal fails. When the leader dies its lock lapses
within ``POLL_LEADER_TTL_MS`` and the next process to try takes over, polling on from the
cursor the dead one saved (``storage.leader.PollCursor``); what it sees again is dropped by
the runtime's de-duplication. This module must not poll or parse anything itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from bots.background import pause
from connectors.base import Connector
from connectors.cursor import Polled
from flows.types import Channel
from storage.errors import StorageError
from storage.leader import LeaderLock, PollCursor
from storage.store import Store

log = logging.getLogger("svyaz.bots")

RENEW_EVERY = 1.0  # seconds between a leader's renewals and a follower's tries


def polled(connector: Connector) -> Polled | None:
    """The connector as a ``Polled`` when it polls (and waits to be elected), else None."""
    if getattr(connector, "polls", False) and getattr(connector, "elected", False):
        return connector  # type: ignore[return-value]
    return None


class PollLeadership:
    """This process's part in one platform's poller election."""

    def __init__(self, connector: Polled, store: Store, platform: str) -> None:
        self.connector = connector
        self.platform = platform
        self.leader = False
        self._lock = LeaderLock.poller(store.redis, store.keys, platform)
        self._cursor = PollCursor(store.redis, store.keys, platform)

    async def run(self, stop: asyncio.Event) -> None:
        """Compete until ``stop`` is set; then stop polling and give the lock up."""
        try:
            while not stop.is_set():
                try:
                    await self._once()
                except StorageError as exc:  # Redis trouble: someone else may poll now
                    log.warning("%s poller election failed: %s", self.platform,
                                type(exc).__name__)
                    await self._step_down()
                if await pause(stop, RENEW_EVERY):
                    break
        finally:
            await self._step_down()
            with contextlib.suppress(StorageError):
                await self._lock.release()

    async def _once(self) -> None:
        if self.leader:
            if not await self._lock.renew():
                await self._step_down()
            return
        if await self._lock.take():
            self.leader = True
            log.info("this process now polls %s", self.platform)
            await self.connector.start_polling(self._cursor)

    async def _step_down(self) -> None:
        if self.leader:
            self.leader = False
            await self.connector.stop_polling()
            log.warning("this process no longer polls %s", self.platform)


def lead_polling(connectors: Mapping[Channel, Connector], store: Store,
                 stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """A task per polling connector competing to poll it, until ``stop`` is set."""
    tasks = []
    for platform, connector in connectors.items():
        if (polling := polled(connector)) is not None:
            election = PollLeadership(polling, store, platform)
            tasks.append(asyncio.create_task(election.run(stop), name=f"{platform}-poll-leader"))
    return tasks
