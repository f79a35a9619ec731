"""The runtime: the only place where storage, the engine, effects and delivery meet.

``Runtime.accept`` is the ``InboundSink`` every connector calls: ``Intake.take``
de-duplicates, resolves the customer from the channel account and pushes the event to the
customer's durable inbox, taking the customer's lock in the same step when it is free (the
``Lease``); then ``Dispatch.kick(customer, lease)`` schedules processing and accept returns
(Redis down -> ``Unavailable``, so webhooks answer 503). The parts, one job each:

- ``bots.turn.TurnRunner``: runs the inbox under the lease — resolve identity (done by the
  accept) → lock → load → advance → save → effects → deliver. The walk of one MAX message
  from the webhook to the reply is in its docstring.
- ``bots.dispatch.Dispatch``: the customer side of scheduling — one drain per customer,
  kicks, bot-initiated events (``inject``) through a backlog of a few workers.
- ``bots.recovery.Recovery``: retries after Redis failed a drain; take-over and sweeps after
  a process died.
- ``bots.linking``: offers, link tokens and codes (run first by the turn runner).

Round trips are counted (three per replied message, ``tests/bots/test_roundtrips.py``): the
accept also takes the lock and reads state and inbox, the save also settles the inbox entry,
records it and writes the outbox, the release acknowledges the replies and checks for new
entries. It must not parse platform payloads or render replies; connectors do.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bots.delivery import Delivery
from bots.dispatch import Dispatch
from bots.effects import Effects
from bots.events import dedupe_key
from bots.metrics import Metrics
from bots.owner import OwnerNote
from bots.recovery import Inheritance, Recovery
from bots.turn import Advance, Clock, Leftovers, NoticeHook, TurnRunner
from connectors.base import Unavailable
from flows.types import AttachmentEvent, Event, Inbound
from storage.errors import StorageError
from storage.history import HistoryEntry
from storage.locks import Lease

if TYPE_CHECKING:
    from bots.filecopy import FileCopier
    from bots.naming import Namer
    from flows.model import FlowSet
    from storage.store import Store

__all__ = ["Advance", "Clock", "Runtime"]


class Runtime:
    """Accepts inbound events and runs customer turns, one customer at a time."""

    def __init__(
        self,
        *,
        store: Store,
        flows: Callable[[], FlowSet],
        advance: Advance,
        delivery: Delivery,
        effects: Effects,
        metrics: Metrics,
        clock: Clock,
        owner_notify: Callable[[OwnerNote], Awaitable[None]] | None = None,
        notices: NoticeHook | None = None,
        owner_inbox: Callable[[Inbound], Awaitable[bool]] | None = None,
        copies: FileCopier | None = None,
        names: Namer | None = None,
    ) -> None:
        self._store = store
        # Looks up the platform's name of a new account beside the turn (bots.naming).
        self._names = names
        self._copies = copies  # keeps copies of the files customers send (bots.filecopy)
        # The owner's own chat answering hand-offs (bots.desk.relay): never a customer.
        self._owner_inbox = owner_inbox
        self._metrics = metrics
        # Built in this order, each kicking through the dispatch built last.
        self.turns = TurnRunner(
            store=store, flows=flows, advance=advance, delivery=delivery, effects=effects,
            metrics=metrics, clock=clock, owner_notify=owner_notify,
            kick=lambda customer: self.dispatch.kick(customer),
            handed=lambda customer: self.dispatch.handed(customer),
            covered=lambda customer: self.dispatch.covered(customer), notices=notices,
        )
        self.recovery = Recovery(
            store=store, delivery=delivery, kick=lambda customer: self.dispatch.kick(customer),
            later=lambda customer: self.dispatch.later(customer),
            active=lambda customer: self.dispatch.active(customer),
            closing=lambda: self.dispatch.closing,
        )
        self.dispatch = Dispatch(store=store, metrics=metrics, process=self.turns.process,
                                 failed=self.recovery.failed, done=self.recovery.done)

    async def accept(self, inbound: Inbound) -> None:
        """The connectors' ``InboundSink``: durable once it returns."""
        if self.dispatch.closing:
            raise Unavailable("shutting down")
        try:  # de-duplicate, resolve, push and take the lock: one round trip when known
            if self._owner_inbox is not None and await self._owner_inbox(inbound):
                return
            arrival = await self._store.intake.take(dedupe_key(inbound), inbound)
        except StorageError as exc:
            raise Unavailable(f"storage unavailable ({exc}); retry later") from exc
        if arrival is None:
            return
        self._metrics.received(inbound.channel).inc()
        self.dispatch.kick(arrival.customer, arrival.lease)
        if self._names is not None:
            self._names.note(arrival.customer, inbound)
        if self._copies is not None and isinstance(inbound.event, AttachmentEvent):
            await self._copies.start(arrival.customer, inbound.event.attachments)

    async def inject(self, customer: str, event: Event, *, event_id: str) -> bool:
        """Push a bot-initiated event (timer, API) into the customer's inbox."""
        return await self.dispatch.inject(customer, event, event_id=event_id)

    def kick(self, customer: str) -> None:
        """Make sure the customer's inbox gets processed (coalesces concurrent kicks)."""
        self.dispatch.kick(customer)

    async def process(self, customer: str, lease: Lease | None = None) -> None:
        """Run the customer's inbox now (under ``lease``, or a lock taken now)."""
        await self.turns.process(customer, lease, Leftovers())

    async def release(self, customer: str) -> bool:
        """An operator hands the conversation back to the bot; False if it was not handed off."""
        states = self._store.states
        lease = await states.locks.lease(customer)
        try:
            state, version = await states.load(customer, snapshot=lease.snapshot)
            if state is None or not state.handoff:
                return False
            released = state.model_copy(update={"handoff": None})
            await states.save(customer, released, version=version, lock=lease.lock)
        finally:
            await states.locks.release(lease.lock)
        await self._store.history.append(customer, HistoryEntry(
            ts=time.time(), channel="-", direction="event", text="",
            note="operator released the conversation"))
        return True

    async def take_over(self, *, everything: bool) -> Inheritance:
        """``Recovery.take_over``: before the connectors start."""
        return await self.recovery.take_over(everything=everything)

    async def sweep(self) -> None:
        """``Recovery.sweep``: leftover inboxes, inherited and stale replies."""
        await self.recovery.sweep()

    async def settled(self, customer: str) -> None:
        """``Dispatch.settled``: no turn of ``customer`` runs in this process."""
        await self.dispatch.settled(customer)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until no customer is being processed (turns may kick further customers)."""
        await self.dispatch.idle(timeout)

    async def close(self, timeout: float = 10.0) -> None:
        """Stop taking events and let the turns in progress finish."""
        await self.dispatch.close(timeout)
        if self._copies is not None:
            await self._copies.close()
        if self._names is not None:
            await self._names.close()

    @property
    def busy(self) -> int:
        return self.dispatch.busy
