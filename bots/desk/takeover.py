"""Taking a conversation over from the bot, answering as a person, handing it back.

``claim`` gives a conversation to one operator (``storage.desk.Handoffs.claim``: a key set
only if absent, so two operators can never both hold it) and puts the dialogue in the
``taken`` hand-off stage under the customer's lock, so the bot stays quiet. ``say`` sends the
operator's text through ``bots.delivery`` (a ``Send`` of why "operator": outbox first, to the
most recently active account, failing over to the others, in the live lane), marked with the
operator's name. ``release`` is ``Runtime.release`` plus the claim dropped, and may start a
flow; ``sweep`` tells a customer nobody answered when to expect an answer and hands back to
the bot after the owner's time (``bots.desk.waiting``). This module must not render pages or
check who may do what (``bots.desk.gate``).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime

from bots.delivery import Delivered, Send
from bots.desk.canned import waiting_of
from bots.desk.waiting import decide, expectation
from bots.parts import Edge
from bots.texts import DESK_UNCLAIMED
from flows.types import DialogState, Reply, StartFlowEvent
from storage.history import OPERATOR_NOTE, HistoryEntry
from storage.store import Store

log = logging.getLogger("svyaz.desk")

CLAIMED = "claimed by "  # a history note: the operator took the conversation
SWEEP_EVERY = 60.0  # seconds between looks for hand-offs nobody claimed


class NotHolder(Exception):
    """The conversation is held by another operator (``holder``) or by nobody (None)."""

    def __init__(self, holder: str | None) -> None:
        super().__init__(holder or "nobody")
        self.holder = holder


def operator_of(note: str) -> str | None:
    """The operator who wrote a history entry, from its note (None: not an operator's)."""
    return note[len(OPERATOR_NOTE):].strip() or None if note.startswith(OPERATOR_NOTE) else None


class Takeover:
    def __init__(self, edge: Edge) -> None:
        self._edge = edge

    async def claim(self, customer: str, operator: str) -> str:
        """Take the conversation for ``operator``; who holds it now (another: not taken)."""
        store = self._edge.parts.store
        holder = await store.desk.handoffs.claim(customer, operator)
        if holder != operator:
            return holder
        await _set_stage(store, customer, "taken")
        await store.desk.handoffs.ended(customer)
        await _note(store, customer, f"{CLAIMED}{operator}")
        self._edge.runtime.kick(customer)  # what arrived while the lock was held
        return operator

    async def say(self, customer: str, operator: str, text: str) -> Delivered:
        """Send ``text`` as ``operator``'s message; ``NotHolder`` unless they hold it."""
        parts = self._edge.parts
        holder = await parts.store.desk.handoffs.holder(customer)
        if holder != operator:
            raise NotHolder(holder)
        return await parts.delivery.deliver(Send(
            customer, (Reply(text, operator=operator),), "operator",
            note=f"{OPERATOR_NOTE}{operator}"))

    async def sweep(self, now: datetime | None = None) -> tuple[int, int]:
        """Honest waiting (``bots.desk.waiting``) for every hand-off nobody has taken: tell
        the customer once when to expect an answer, hand back to the bot after the owner's
        time (each once across processes); how many were told and released. ``now``: the
        business's local time (the app's clock by default)."""
        parts = self._edge.parts
        now = now or self._edge.clock()
        waiting, working = waiting_of(parts.flows.folder), parts.flows.current().working
        handoffs = parts.store.desk.handoffs
        began = await handoffs.waiting()
        due = {customer: step for customer, since in began.items()
               if (step := decide(since, now, working=working, waiting=waiting)) != "wait"}
        told = released = 0
        for summary in await parts.store.desk.summaries.of(list(due)):
            customer, stage, since = summary.customer, summary.handoff, began[summary.customer]
            if stage not in ("waiting", "unheard"):  # taken, or back with the bot already
                await handoffs.ended(customer)
            elif await handoffs.holder(customer) is not None:
                continue
            elif due[customer] == "release":
                released += await self._release_unclaimed(customer)
            elif stage == "waiting" and await handoffs.tell_once(customer, since,
                                                                 waiting.release_after):
                told += 1
                await parts.delivery.deliver(Send(customer, (expectation(
                    since, now, working=working, waiting=waiting),), "operator",
                    note="desk: told when to expect an answer"))
        return told, released

    async def _release_unclaimed(self, customer: str) -> bool:
        if not await self._edge.parts.store.desk.handoffs.ended(customer):
            return False  # another process took this one
        if not await self._edge.runtime.release(customer):
            return False
        await self._edge.parts.delivery.deliver(Send(
            customer, (Reply(DESK_UNCLAIMED),), "operator", note="desk: nobody claimed it"))
        return True

    async def release(self, customer: str, operator: str, flow: str | None = None) -> bool:
        """Hand the conversation back to the bot at its step, or into ``flow``; False when it
        was neither handed off nor held."""
        store = self._edge.parts.store
        held = await store.desk.handoffs.holder(customer)
        released = await self._edge.runtime.release(customer)
        await store.desk.handoffs.unclaim(customer)
        await store.desk.handoffs.ended(customer)
        if flow is not None:
            await self._edge.inject(customer, StartFlowEvent(flow=flow, vars={}),
                                    event_id=f"desk:{uuid.uuid4().hex}")
        self._edge.runtime.kick(customer)
        if released or held:
            log.info("conversation released", extra={"customer": customer})
        return released or held is not None


async def _set_stage(store: Store, customer: str, stage: str) -> None:
    states = store.states
    lease = await states.locks.lease(customer)
    try:
        state, version = await states.load(customer, snapshot=lease.snapshot)
        changed = (state or DialogState()).model_copy(update={"handoff": stage})
        await states.save(customer, changed, version=version, lock=lease.lock)
    finally:
        await states.locks.release(lease.lock)


async def _note(store: Store, customer: str, note: str) -> None:
    await store.history.append(customer, HistoryEntry(
        ts=time.time(), channel="-", direction="event", text="", note=note))
