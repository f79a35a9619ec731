"""Recovery: after Redis failed a customer's drain, and after a process died.

A drain that Redis failed hands over what its turns left (``bots.turn.Leftovers``: replies
delivered but not acknowledged; a save's kept replies wait in the state, ``bots.kept``); ``failed``
keeps them with the customer's retry count, settles them after a short back-off and runs the
customer's inbox again, instead of at the next sweep (30 s) or when the lock and the outbox
lease expire (30 and 60 s). ``take_over`` (at start) breaks the locks a dead process left and
lists its unsent replies (``Inheritance``); the first ``sweep`` re-sends them and runs the
customers whose turn it cut, every sweep the inboxes left pending and the stale outbox.

This module must not run turns (``bots.turn``) or decide when a customer runs otherwise
(``bots.dispatch``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bots.delivery import Delivery
from bots.turn import Leftovers
from flows.backoff import backoff_delay
from storage.errors import StorageError, StorageUnavailable
from storage.outbox import OutboxEntry

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

RETRY_FIRST = 0.5  # seconds before the first retry of a customer whose turn Redis failed
RETRY_ATTEMPTS = 6  # doubling: the last after 16 s (31.5 s in all), then the sweeps
RETRY_LAST = RETRY_FIRST * 2 ** (RETRY_ATTEMPTS - 1)  # never capped lower


@dataclass(slots=True)
class _Retry:
    """A customer whose drain Redis failed: what its turns left, and how often we tried."""

    left: Leftovers = field(default_factory=Leftovers)
    attempts: int = 0

    @property
    def settled(self) -> bool:
        return not self.left.unacked


@dataclass(frozen=True, slots=True)
class Inheritance:
    """What a process that died left (``take_over``): the customers whose locks it held and
    its outbox entries not yet sent."""

    cut: tuple[str, ...] = ()
    replies: tuple[OutboxEntry, ...] = ()


class Recovery:
    """Retries after a failed drain; take-over and sweeps after a dead process."""

    def __init__(
        self, *, store: Store, delivery: Delivery, kick: Callable[[str], None],
        later: Callable[[str], None], active: Callable[[str], bool],
        closing: Callable[[], bool],
    ) -> None:
        self._store = store
        self._delivery = delivery
        self._kick = kick
        self._later = later  # through the background workers
        self._active = active
        self._closing = closing
        self._retries: dict[str, _Retry] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._inheritance = Inheritance()  # for the first sweep

    def failed(self, customer: str, left: Leftovers, exc: StorageError) -> None:
        """Redis failed the customer's drain: keep what it left; retry soon after a stall or
        a restart (``StorageUnavailable``)."""
        retry = self._retries.setdefault(customer, _Retry())
        retry.left.unacked += left.unacked
        if isinstance(exc, StorageUnavailable):
            self._retry_soon(customer)

    def done(self, customer: str) -> None:
        """The customer's drain ended well: forget a retry that has nothing left to settle."""
        retry = self._retries.get(customer)
        if retry is not None and retry.settled:
            del self._retries[customer]

    def _retry_soon(self, customer: str) -> None:
        retry = self._retries.setdefault(customer, _Retry())
        if self._closing() or retry.attempts >= RETRY_ATTEMPTS:
            self._retries.pop(customer, None)  # Redis is still down: the sweeps take over
            return
        delay = backoff_delay(retry.attempts, base=RETRY_FIRST, cap=RETRY_LAST, jitter=False)
        retry.attempts += 1
        asyncio.get_running_loop().call_later(delay, self._start_recovery, customer)

    def _start_recovery(self, customer: str) -> None:
        if not self._closing():
            self._spawn(self._recover(customer), f"recover:{customer}")

    def _spawn(self, work: Coroutine[object, object, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)  # a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _recover(self, customer: str) -> None:
        left = (self._retries.get(customer) or _Retry()).left  # (none: just run the inbox)
        try:
            if left.unacked:  # delivered: never to be re-sent
                await self._store.acknowledge(left.unacked)  # (clears the list)
        except StorageError:
            self._retry_soon(customer)
            return
        if not self._closing():
            self._kick(customer)

    async def take_over(self, *, everything: bool) -> Inheritance:
        """Before the connectors start: break the locks a process that died left and let the
        first sweep re-send its unsent replies, instead of waiting for the locks to expire
        (30 s) and the replies to go stale (60 s). On a Redis only this process can reach
        (``everything``: the embedded one), every lock and outbox entry is the dead's; on a
        shared one, those carrying this process's name (storage.instance): it took the name
        over from the process that died with it."""
        breaker, outbox = self._store.states.breaker, self._store.outbox
        if everything:
            cut, replies = await breaker.break_all(), await outbox.pending()
        else:
            cut, replies = await breaker.break_mine(), await outbox.inherit()
        self._inheritance = Inheritance(tuple(cut), tuple(replies))
        if cut or replies:
            log.info("taking over from a process that died: %d locks broken, %d replies to "
                     "re-send", len(cut), len(replies))
        return self._inheritance

    async def sweep(self) -> None:
        """Crash recovery: process leftover inbox entries, re-send stale outbox entries."""
        inherited, self._inheritance = self._inheritance, Inheritance()
        # Their customers' inboxes wait: a cut turn's replies come first.
        later = {entry.customer for entry in inherited.replies}
        if inherited.replies:
            self._spawn(self._resend_inherited(list(inherited.replies)), "inherited")
        # Customers whose turn a dead process cut: their turn's effects may not have run
        # (``TurnRunner._cut``) even when their inbox is empty; a booking's reminder must
        # not wait for the customer's next message, which may never come.
        for customer in {*await self._store.inbox.customers_with_pending(), *inherited.cut}:
            if not self._active(customer) and customer not in later:
                self._later(customer)
        sent = await self._delivery.resend_stale()
        if sent:
            log.info("re-sent %d stale outbox entries", sent)

    async def _resend_inherited(self, entries: list[OutboxEntry]) -> None:
        try:
            if sent := await self._delivery.resend([entry.id for entry in entries]):
                log.info("re-sent %d replies a process that died had not delivered", sent)
        finally:  # (what failed stays in the outbox for the stale sweep)
            for customer in {entry.customer for entry in entries}:
                if not self._closing():
                    self._later(customer)
