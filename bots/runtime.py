"""The turn: the only place where storage, the engine, effects and delivery meet.

``Runtime.accept`` is the ``InboundSink`` every connector calls: de-duplicate, resolve the
customer from the channel account, push the event to the customer's durable inbox (taking the
customer's lock in the same step when it is free), schedule processing and return (Redis down
-> ``Unavailable``, so webhooks answer 503).
``Runtime.process`` holds the customer's lock and runs each pending inbox entry in order:
linking (``bots.linking``: offers, link tokens and codes, their confirmation),
``engine.advance``, save state, history and the replies' outbox entries, execute effects,
deliver replies. Round trips are counted (three per replied message,
``tests/bots/test_roundtrips.py``): the accept also takes the lock and reads state and inbox,
the save also settles the inbox entry, records it and writes the outbox, the release
acknowledges the replies and checks for new entries.
Exactly one catch-all lives here: a failing turn is logged with its ids and the customer
gets a polite apology; the next message works.
It must not parse platform payloads or render replies; connectors do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bots.background import Backlog
from bots.delivery import Delivery
from bots.effects import Effects
from bots.events import dedupe_key, describe, is_initiated, position
from bots.metrics import Metrics
from bots.owner import OwnerNote
from connectors.base import Unavailable, dialog_user
from flows.chain import MAX_CALLS, Chain, GiveUp
from flows.engine import give_up
from flows.types import (
    CallHttp,
    DialogState,
    Event,
    Inbound,
    Reply,
    ResumeEvent,
    Turn,
)
from storage.codec import encode_effects
from storage.errors import LockLost, StorageError, StorageUnavailable, VersionConflict
from storage.history import Direction, HistoryEntry
from storage.outbox import OutboxEntry
from storage.state import Lock
from storage.store import Sent

if TYPE_CHECKING:
    from flows.model import FlowSet
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

SORRY = "Что-то пошло не так, попробуйте ещё раз."
BACKGROUND_WORKERS = 8  # customers processed at once for bot-initiated events


class Advance(Protocol):
    def __call__(
        self, flows: FlowSet, state: DialogState | None, event: Event, now: datetime
    ) -> Turn: ...


Clock = Callable[[], datetime]


@dataclass(slots=True)
class _Ctx:
    """What a turn knows about itself, for its log line and its history entries."""

    customer: str
    entry_id: str
    inbound: Inbound
    sent: list[Sent]
    flow: str = "-"
    step: str = "-"
    recorded: bool = False  # the inbound entry is in the customer's history
    queued: tuple[str, ...] = ()  # outbox ids written with the state, not yet delivered


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
    ) -> None:
        self._store = store
        self._flows = flows
        self._advance = advance
        self._delivery = delivery
        self._effects = effects
        self._metrics = metrics
        self._clock = clock
        self._owner_notify = owner_notify
        self._active: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        # After Redis failed mid-turn: what to settle before trying the customer again soon.
        self._stranded: dict[str, _Stranded] = {}
        self._recovering: set[asyncio.Task[None]] = set()
        # Bot-initiated work waits for one of a few workers, so a batch of 10,000 reminders
        # never starves customers who are chatting (their messages kick at once).
        self._backlog = Backlog(self._kick_and_wait, workers=BACKGROUND_WORKERS)
        self._closing = False
        # Outbox entries a dead process left, re-sent by the first sweep, and the customers
        # whose locks it held (``take_over``).
        self._inherited: list[OutboxEntry] = []
        self._cut: list[str] = []

    # ------------------------------------------------------------------ accepting

    async def accept(self, inbound: Inbound) -> None:
        """The connectors' ``InboundSink``: durable once it returns."""
        if self._closing:
            raise Unavailable("shutting down")
        try:  # de-duplicate, resolve, push and take the lock: one round trip when known
            customer = await self._store.intake.accept(dedupe_key(inbound), inbound, take=True)
        except StorageError as exc:
            raise Unavailable(f"storage unavailable ({exc}); retry later") from exc
        if customer is None:
            return
        self._metrics.messages_in.labels(inbound.channel).inc()
        self.kick(customer)

    async def inject(self, customer: str, event: Event, *, event_id: str) -> bool:
        """Push a bot-initiated event (timer, API) into the customer's inbox."""
        accounts = await self._store.identities.accounts(customer)
        if not accounts:
            return False
        channel, _, user_id = accounts[0].account.partition(":")
        inbound = Inbound(channel=channel, user_id=user_id,  # type: ignore[arg-type]
                          event_id=event_id, event=event)
        if not await self._store.dedupe.first_seen(f"bot:{customer}:{event_id}"):
            return True
        await self._store.inbox.push(customer, inbound)
        self._backlog.add(customer)
        return True

    async def _kick_and_wait(self, customer: str) -> None:
        self.kick(customer)
        if (task := self._active.get(customer)) is not None:
            await asyncio.wait([task])

    def kick(self, customer: str) -> None:
        """Make sure the customer's inbox gets processed (coalesces concurrent kicks)."""
        if customer in self._active:
            self._again.add(customer)
            return
        self._active[customer] = asyncio.create_task(
            self._drain(customer), name=f"turns:{customer}"
        )

    async def _drain(self, customer: str) -> None:
        self._metrics.turns_in_progress.inc()
        try:
            while True:
                self._again.discard(customer)
                await self.process(customer)
                if customer not in self._again:
                    return
        except StorageError as exc:
            log.warning("inbox of %s not processed: %s: %s", customer, type(exc).__name__, exc)
            if isinstance(exc, StorageUnavailable):  # a stall or a restart: again soon
                self._retry_soon(customer)
        else:
            stranded = self._stranded.get(customer)
            if stranded is not None and stranded.settled:
                del self._stranded[customer]
        finally:
            # No await between the last check of _again and this pop: a kick() either saw
            # the task still active and set _again before the check, or starts a new task.
            self._active.pop(customer, None)
            self._metrics.turns_in_progress.dec()

    # ------------------------------------------------------------------ processing

    async def process(self, customer: str) -> None:
        """Lock, then load: run every pending inbox entry of ``customer`` in order."""
        seen: set[str] = set()
        store = self._store
        # Taken by accept, or now; either way the state and the inbox were read with it.
        lock = store.states.taken(customer) or await store.states.acquire(customer)
        sent: list[Sent] = []  # delivered replies, acknowledged with the next round trip
        held = True
        try:
            if (cut := store.states.left_effects(customer)) is not None:
                await self._replay(customer, cut)
            rows = await store.inbox.pending(customer)
            # Entries pushed while we hold the lock are ours too (another process waiting
            # for this lock may have given up meanwhile): release only once the inbox is empty.
            while fresh := [(i, e) for i, e in rows if i not in seen]:
                for entry_id, inbound in fresh:
                    if seen:  # a long backlog must not outlive the lock's expiry
                        await store.acknowledge(sent, extend=lock)
                    seen.add(entry_id)
                    if not await self._turn(_Ctx(customer, entry_id, inbound, sent), lock):
                        return  # merged into another customer: the rest moved there
                left = await store.release_if_idle(lock, sent)
                held = left is not None
                rows = await store.inbox.decode(customer, left or [])
        finally:
            if held:  # also after a merge: the replies are acknowledged, the lock is gone
                try:
                    await store.release(lock, sent)
                except StorageError:
                    # Unanswered, it may still hold the lock and leave delivered replies in
                    # the outbox (a later re-send would double them): settled by _recover.
                    store.states.orphaned(customer, lock.token)
                    self._strand(customer, unacked=sent)
                    raise

    async def _replay(self, customer: str, left: str) -> None:
        """The customer's last turn was saved, then its process died before the release that
        forgets its effects: they may not have run (a kill between the save and them). Run
        them now, before the next entry, so a booking's reminder is not lost; each is safe to
        run twice. Redis failing stops here as in a turn: they stay stored for next time."""
        try:
            ran = await self._effects.replay(customer, left)
        except StorageError:
            raise
        except Exception:  # a broken effect must not block the customer's inbox forever
            log.exception("effects of a turn cut short not run", extra={"customer": customer})
            return
        log.info("ran again the %d effects of %s's last turn: its process stopped before the "
                 "release", ran, customer)

    async def _turn(self, ctx: _Ctx, lock: Lock) -> bool:
        """One inbox entry; False when the account was joined to another customer."""
        started = time.perf_counter()
        go_on = True
        try:
            await self._delivery.acknowledge(ctx.inbound)
            event, moved = await self._link(ctx)
            go_on = not moved
            if event is not None:
                await self._run(ctx, event, lock)
        except _RETRY_LATER as exc:
            # Redis stalled or the lock was lost mid-turn: the entry stays pending (the save
            # that settles it did not happen) and is run again — never settled with an
            # apology, which would lose a reminder. Or the save did happen, unanswered: then
            # its replies wait in the outbox, and _recover sends them.
            self._metrics.turn_errors.inc()
            if isinstance(exc, StorageUnavailable):  # (LockLost, VersionConflict: not written)
                self._strand(ctx.customer, queued=ctx.queued)
            raise
        except Exception:  # the one catch-all: log with every id, apologise, go on
            self._metrics.turn_errors.inc()
            log.exception(
                "turn failed",
                extra={"customer": ctx.customer, "channel": ctx.inbound.channel,
                       "event_id": ctx.inbound.event_id, "flow": ctx.flow, "step": ctx.step},
            )
            await self._apologise(ctx)
        elapsed = time.perf_counter() - started
        self._metrics.turn_seconds.labels(ctx.inbound.channel).observe(elapsed)
        log.info(
            "turn customer=%s channel=%s flow=%s step=%s ms=%.1f",
            ctx.customer, ctx.inbound.channel, ctx.flow, ctx.step, elapsed * 1000,
        )
        return go_on

    async def _link(self, ctx: _Ctx) -> tuple[Event | None, bool]:
        """Linking first (``bots.linking``): the event to run here, if any, and whether the
        account's customer was merged into another (the rest of the inbox moved there)."""
        plan = await self._effects.linking.plan(ctx.customer, ctx.inbound, ctx.entry_id)
        if plan is None:
            return ctx.inbound.event, False
        if plan.moved_to is not None:  # its entry was settled before the merge moved the inbox
            await self._effects.merged(ctx.customer, plan.moved_to)
            ctx.customer = plan.moved_to
        elif plan.event is None:  # else the turn's save settles and records it
            await self._store.inbox.done(ctx.customer, ctx.entry_id)
        if plan.event is None:  # noted as linking: no message of the customer's own
            entry = self._entry_in(ctx)
            await self._store.history.append(ctx.customer, replace(entry, note=plan.label))
            ctx.recorded = True
        await self._deliver(ctx, plan.replies)
        ctx.flow, ctx.step = plan.label, "-"
        if plan.moved_to is not None:
            resume = Inbound(
                channel=ctx.inbound.channel, user_id=ctx.inbound.user_id,
                event_id=f"{ctx.inbound.event_id}:resume",
                event=ResumeEvent(ctx.inbound.channel), reply_to=ctx.inbound.reply_to,
            )
            await self._store.inbox.push(plan.moved_to, resume)
            self.kick(plan.moved_to)
        return plan.event, plan.moved_to is not None

    async def _run(self, ctx: _Ctx, event: Event, lock: Lock) -> None:
        state, version = await self._store.states.load(ctx.customer)
        ctx.flow, ctx.step = position(state)
        chain = Chain(event)  # the event, then what its effects feed back (bounded)
        first = True
        while (item := chain.next()) is not None:
            if isinstance(item, CallHttp):
                await self._store.states.extend(lock)
                chain.feed(await self._effects.call(item))
                continue
            turn = self._next_turn(ctx, state, item)
            # Replies to the customer go into the outbox with the state (one step: a crash
            # after it re-sends them); the first save also settles and records the entry.
            queued = [] if is_initiated(ctx.inbound.event) else self._delivery.prepare(
                ctx.customer, ctx.inbound, turn.replies)
            ctx.queued = tuple(entry.id for entry in queued)  # written by the save, or not
            version = await self._store.states.save(
                ctx.customer, turn.state, version=version, lock=lock,
                inbox_id=ctx.entry_id if first else None,
                history=self._entry_in(ctx) if first else None,
                outbox=queued, effects=encode_effects(ctx.inbound.channel, turn.effects),
            )
            ctx.recorded = True
            first = False
            state = turn.state
            ctx.flow, ctx.step = position(state)
            outcome = await self._effects.run(ctx.customer, ctx.inbound, turn.effects)
            await self._deliver(ctx, (*turn.replies, *outcome.replies))
            ctx.queued = ()
            chain.feed(*outcome.events, *outcome.calls)

    def _next_turn(self, ctx: _Ctx, state: DialogState | None, item: Event | GiveUp) -> Turn:
        if not isinstance(item, GiveUp):
            return self._advance(self._flows(), state, item, self._clock())
        # A flow whose call leads back to itself: stopped instead of calling the business
        # forever while holding the customer's lock; the customer gets an apology and the
        # menu (the dialogue leaves the looping step: no call is left waiting).
        self._metrics.turn_errors.inc()
        log.warning("flow %s step %s: stopped after %d HTTP calls for one event of customer "
                    "%s (a flow that calls again and again?); the customer got an apology "
                    "and the menu", ctx.flow, ctx.step, MAX_CALLS, ctx.customer,
                    extra={"customer": ctx.customer, "flow": ctx.flow, "step": ctx.step})
        return give_up(self._flows(), state, self._clock())

    async def _deliver(self, ctx: _Ctx, replies: tuple[Reply, ...]) -> None:
        if not replies:
            return
        if not is_initiated(ctx.inbound.event):
            await self._delivery.reply(ctx.customer, ctx.inbound, replies, sent=ctx.sent,
                                       queued=ctx.queued)
            return
        result = await self._delivery.initiate(ctx.customer, replies)
        if result.target is not None:
            ctx.inbound = _retarget(ctx.inbound, result.target.channel, result.target.user_id)
            return
        await self._undeliverable(ctx)

    async def _undeliverable(self, ctx: _Ctx) -> None:
        self._metrics.reminders_failed.inc()
        text, note = describe(ctx.inbound.event)
        await self._store.history.append(ctx.customer, HistoryEntry(
            ts=time.time(), channel=ctx.inbound.channel, direction="event", text=text,
            note=f"undeliverable: {note}",
        ))
        if self._owner_notify is not None:
            await self._owner_notify(OwnerNote("undeliverable", ctx.customer, note))

    async def _record_in(self, ctx: _Ctx) -> None:
        await self._store.history.append(ctx.customer, self._entry_in(ctx))
        ctx.recorded = True

    @staticmethod
    def _entry_in(ctx: _Ctx) -> HistoryEntry:
        text, note = describe(ctx.inbound.event)
        direction: Direction = "in" if text and not is_initiated(ctx.inbound.event) else "event"
        return HistoryEntry(ts=time.time(), channel=ctx.inbound.channel, direction=direction,
                            text=text, note=note)

    async def _apologise(self, ctx: _Ctx) -> None:
        try:
            for entry in ctx.queued:  # the failed turn's replies: the apology replaces them
                await self._store.outbox.ack(entry)
            await self._store.inbox.done(ctx.customer, ctx.entry_id)
            if not ctx.recorded:  # the failed turn's save would have recorded it
                await self._record_in(ctx)
            if not is_initiated(ctx.inbound.event):
                await self._delivery.reply(ctx.customer, ctx.inbound, [Reply(SORRY)])
        except Exception:  # storage or channel down as well: the sweeper retries the entry
            log.warning("apology not delivered", extra={"customer": ctx.customer})

    # ------------------------------------------------------------------ after a failed turn

    def _strand(self, customer: str, *, queued: tuple[str, ...] = (),
                unacked: list[Sent] | None = None) -> None:
        stranded = self._stranded.setdefault(customer, _Stranded())
        stranded.queued += queued
        stranded.unacked += unacked or []

    def _retry_soon(self, customer: str) -> None:
        """Redis failed mid-turn: settle what the turn left and run the customer's inbox again
        after a short back-off, instead of at the next sweep (30 s) or when the lock and the
        outbox lease expire (30 and 60 s)."""
        stranded = self._stranded.setdefault(customer, _Stranded())
        if self._closing or stranded.attempts >= RETRY_ATTEMPTS:
            self._stranded.pop(customer, None)  # Redis is still down: the sweeps take over
            return
        delay = RETRY_FIRST * 2 ** stranded.attempts
        stranded.attempts += 1
        asyncio.get_running_loop().call_later(delay, self._start_recovery, customer)

    def _start_recovery(self, customer: str) -> None:
        if self._closing:
            return
        task = asyncio.create_task(self._recover(customer), name=f"recover:{customer}")
        self._recovering.add(task)  # a reference until it is done
        task.add_done_callback(self._recovering.discard)

    async def _recover(self, customer: str) -> None:
        stranded = self._stranded.get(customer) or _Stranded()  # (none: just run the inbox)
        try:
            if stranded.unacked:  # delivered: never to be re-sent
                await self._store.acknowledge(stranded.unacked)  # (clears the list)
            if stranded.queued:  # written by a save whose answer
                sent = await self._delivery.resend(stranded.queued)  # never came, not sent
                stranded.queued = ()
                if sent:
                    log.info("sent %d replies of %s's turn that Redis saved unanswered",
                             sent, customer)
        except StorageError:
            self._retry_soon(customer)
            return
        if not self._closing:
            self.kick(customer)

    async def release(self, customer: str) -> bool:
        """An operator hands the conversation back to the bot; False if it was not handed off."""
        async with self._store.states.lock(customer) as lock:
            state, version = await self._store.states.load(customer)
            if state is None or not state.handoff:
                return False
            released = state.model_copy(update={"handoff": None})
            await self._store.states.save(customer, released, version=version, lock=lock)
        await self._store.history.append(customer, HistoryEntry(
            ts=time.time(), channel="-", direction="event", text="",
            note="operator released the conversation"))
        return True

    # ------------------------------------------------------------------ background

    async def take_over(self, *, everything: bool) -> None:
        """Before the connectors start: break the locks a process that died left and let the
        first sweep re-send its unsent replies, instead of waiting for the locks to expire
        (30 s) and the replies to go stale (60 s). On a Redis only this process can reach
        (``everything``: the embedded one), every lock and outbox entry is the dead's; on a
        shared one, those carrying this process's name (storage.instance): it took the name
        over from the process that died with it."""
        states, outbox = self._store.states, self._store.outbox
        if everything:
            self._cut = await states.break_all()
            self._inherited = await outbox.pending()
        else:
            self._cut = await states.break_mine()
            self._inherited = await outbox.inherit()
        if self._cut or self._inherited:
            log.info("taking over from a process that died: %d locks broken, %d replies to "
                     "re-send", len(self._cut), len(self._inherited))

    async def sweep(self) -> None:
        """Crash recovery: process leftover inbox entries, re-send stale outbox entries."""
        later: set[str] = set()
        if self._inherited:  # their customers' inboxes wait: a cut turn's replies come first
            inherited, self._inherited = self._inherited, []
            later = {entry.customer for entry in inherited}
            task = asyncio.create_task(self._resend_inherited(inherited), name="inherited")
            self._recovering.add(task)  # a reference until it is done
            task.add_done_callback(self._recovering.discard)
        # Customers whose turn a dead process cut: their turn's effects may not have run
        # (``_replay``) even when their inbox is empty; a booking's reminder must not wait
        # for the customer's next message, which may never come.
        cut, self._cut = self._cut, []
        for customer in {*await self._store.inbox.customers_with_pending(), *cut}:
            # Through the workers: a backlog of reminders must not flood the channels at once.
            if customer not in self._active and customer not in later:
                self._backlog.add(customer)
        sent = await self._delivery.resend_stale()
        if sent:
            log.info("re-sent %d stale outbox entries", sent)

    async def _resend_inherited(self, entries: list[OutboxEntry]) -> None:
        try:
            if sent := await self._delivery.resend([entry.id for entry in entries]):
                log.info("re-sent %d replies a process that died had not delivered", sent)
        finally:  # (what failed stays in the outbox for the stale sweep)
            for customer in {entry.customer for entry in entries}:
                if not self._closing:
                    self._backlog.add(customer)

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
        self._closing = True
        await self.idle(timeout)
        await self._backlog.close()

    @property
    def busy(self) -> int:
        return len(self._active)


_RETRY_LATER = (StorageUnavailable, LockLost, VersionConflict)
RETRY_FIRST = 0.5  # seconds before the first retry of a customer whose turn Redis failed
RETRY_ATTEMPTS = 6  # doubling: the last after 16 s (31.5 s in all), then the sweeps


@dataclass(slots=True)
class _Stranded:
    """What a turn that Redis failed left to settle: replies delivered but not acknowledged,
    and outbox ids its save may have written but nobody sent."""

    queued: tuple[str, ...] = ()
    unacked: list[Sent] = field(default_factory=list)
    attempts: int = 0

    @property
    def settled(self) -> bool:
        return not self.queued and not self.unacked


def _retarget(inbound: Inbound, channel: str, user_id: str) -> Inbound:
    """After a bot-initiated delivery, follow-up replies go to where it was delivered (a
    route, ``DIALOG_PREFIX``, stays the reply target; the user id is its last part)."""
    user = dialog_user(user_id)
    return Inbound(channel=channel, user_id=user or user_id,  # type: ignore[arg-type]
                   event_id=inbound.event_id, event=inbound.event,
                   reply_to=user_id if user else None)
