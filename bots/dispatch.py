"""The customer side of scheduling: which customer's inbox runs when, one drain at a time.

``kick(customer, lease)`` starts the customer's drain task, or — one is running — leaves it
the lease an accept took (``Intake.take``) and a note to look at the inbox again; ``inject``
pushes a bot-initiated event (a reminder's timer, an API call) and queues the customer in a
backlog that a few workers drain, so a batch of reminders never starves customers who are
chatting. A drain passes what Redis failing left (``bots.turn.Leftovers``) to
``bots.recovery``. This module must not run turns itself (``bots.turn``) or touch locks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bots.background import Backlog
from bots.metrics import Metrics
from bots.turn import Leftovers
from flows.types import Event, Inbound
from storage.errors import StorageError
from storage.locks import Lease

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

BACKGROUND_WORKERS = 8  # customers processed at once for bot-initiated events

Process = Callable[[str, Lease | None, Leftovers], Awaitable[None]]


class Dispatch:
    """One drain task per customer; kicks coalesce; leases reach the drain that needs them."""

    def __init__(
        self, *, store: Store, metrics: Metrics, process: Process,
        failed: Callable[[str, Leftovers, StorageError], None], done: Callable[[str], None],
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._process = process  # the turn runner's
        self._failed = failed  # recovery's: Redis failed the drain
        self._done = done  # recovery's: the drain ended well
        self._active: dict[str, asyncio.Task[None]] = {}
        # Customers kicked while their drain ran: look at the inbox again, with the lease an
        # accept took meanwhile (when the lock was free), to run or hand to the drain's wait.
        self._again: dict[str, Lease | None] = {}
        self._backlog = Backlog(self._kick_and_wait, workers=BACKGROUND_WORKERS)
        self.closing = False

    async def inject(self, customer: str, event: Event, *, event_id: str) -> bool:
        """Push a bot-initiated event (timer, API) into the customer's inbox."""
        accounts = await self._store.identities.accounts(customer)
        if not accounts:
            return False
        channel, _, user_id = accounts[0].account.partition(":")
        inbound = Inbound(channel=channel, user_id=user_id,
                          event_id=event_id, event=event)
        if not await self._store.dedupe.first_seen(f"bot:{customer}:{event_id}"):
            return True
        await self._store.inbox.push(customer, inbound)
        self._backlog.add(customer)
        return True

    def later(self, customer: str) -> None:
        """Through the workers: a backlog of reminders must not flood the channels at once."""
        self._backlog.add(customer)

    def active(self, customer: str) -> bool:
        return customer in self._active

    async def _kick_and_wait(self, customer: str) -> None:
        self.kick(customer)
        if (task := self._active.get(customer)) is not None:
            await asyncio.wait([task])

    def kick(self, customer: str, lease: Lease | None = None) -> None:
        """Make sure the customer's inbox gets processed (coalesces concurrent kicks)."""
        if customer in self._active:
            if lease is not None:
                self._again[customer] = lease
            else:
                self._again.setdefault(customer, None)
            return
        self._active[customer] = asyncio.create_task(
            self._drain(customer, lease), name=f"turns:{customer}"
        )

    def handed(self, customer: str) -> Lease | None:
        """The lease an accept took while the customer's drain waited for the lock (once);
        the note to look again stays."""
        lease = self._again.get(customer)
        if lease is not None:
            self._again[customer] = None
        return lease

    def covered(self, customer: str) -> bool:
        """The customer's drain is about to release, and its release checks the inbox when a
        push marked the lock (``storage.lock_scripts``): a note to look again that an accept
        left without a lease (it pushed while the lock was held, marking it) is answered by
        that check, which Redis runs after the push, so the note goes and the
        drain does not lease again for nothing (a lock, state and inbox read and a release:
        a third of a message's Redis work in a closed loop). A lease an accept took stays.
        True when a note went (the turn runner puts it back if its release lost the lock)."""
        if customer in self._again and self._again[customer] is None:
            del self._again[customer]
            return True
        return False

    async def _drain(self, customer: str, lease: Lease | None) -> None:
        self._metrics.turns_in_progress.inc()
        left = Leftovers()
        try:
            while True:
                handed = self._again.pop(customer, None)  # (taken since the kick)
                await self._process(customer, handed or lease, left)
                lease = None
                if customer not in self._again:
                    return
        except StorageError as exc:
            log.warning("inbox of %s not processed: %s: %s", customer, type(exc).__name__, exc)
            self._failed(customer, left, exc)
        else:
            self._done(customer)
        finally:
            # No await between the last check of _again and this pop: a kick() either saw
            # the task still active and set _again before the check, or starts a new task.
            self._active.pop(customer, None)
            self._metrics.turns_in_progress.dec()

    async def settled(self, customer: str) -> None:
        """Returns once no drain of ``customer`` runs (one kicked meanwhile is waited for too)."""
        while (task := self._active.get(customer)) is not None:
            await asyncio.wait([task])

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until no customer is being processed (turns may kick further customers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._active:
                await asyncio.wait(list(self._active.values()),
                                   timeout=deadline - time.monotonic())
            elif self._backlog.waiting:
                await asyncio.sleep(0.01)
            else:
                return

    async def close(self, timeout: float = 10.0) -> None:
        """Stop taking events and let the turns in progress finish."""
        self.closing = True
        await self.idle(timeout)
        await self._backlog.close()

    @property
    def busy(self) -> int:
        return len(self._active)
