"""The turn runner: one customer's pending inbox entries, run in order under the customer's lock.

One MAX message from the webhook to the reply (each step a call, each hand-over a value):

1. ``MaxWebhook.handle`` (``connectors.maxbot.webhook``) checks the secret header,
   ``parse`` (``connectors.maxbot.parse``) turns the update into an ``Inbound``, and the sink
   (``Edge.accept`` in ``bots.parts``, refusing while svyaz starts or stops) calls
   ``Runtime.accept(inbound)`` (``bots.runtime``).
2. ``Intake.take(dedupe_key, inbound)`` (``storage.intake``), one round trip: resolve the
   customer from ``max:<user>``, de-duplicate, push to the inbox, and — the lock being free —
   take the lock reading state, inbox rows and left effects: an ``Arrival(customer, lease)``.
   The webhook answers 200 once it returns (``Unavailable`` -> 503, the platform retries).
3. ``Dispatch.kick(customer, lease)`` (``bots.dispatch``) starts the customer's drain task
   with the lease (or hands the lease to the drain already running for that customer).
4. ``TurnRunner.process(customer, lease, left)`` (here): a cut turn's kept replies and
   effects first (``_cut``), then each row (``Inbox.decode``) a turn: ``_turn`` -> ``_link``
   -> ``_run``: ``States.load(snapshot=...)`` -> ``advance`` -> ``Delivery.prepare`` ->
   ``States.save(..., replies, effects)`` (round trip two: replies kept in the state,
   ``storage.kept``) -> ``Effects.run`` -> ``Delivery.reply(..., sent=sent, kept=...)``:
   the MAX client's ``POST /messages``; each delivered reply joins ``sent``.
5. ``Store.release_if_idle(lease.lock, sent)`` (round trip three) records ``sent`` in the
   history, deletes the kept replies and releases the lock — or returns entries that arrived
   meanwhile, which run in the same loop from the state the last save stored (no read).

Exactly one catch-all lives here: a failing turn is logged with its ids and the customer gets
a polite apology; the next message works. Redis failing mid-turn is not caught: replies
delivered but not acknowledged go into ``left`` for ``bots.recovery``. It must not parse
platform payloads or render replies; connectors do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bots.delivery import Delivery, Kept, Send, Why
from bots.effects import Effects, riding
from bots.events import describe, inbound_entry, is_initiated, position, retarget
from bots.funnel import FunnelCounts
from bots.held import Held
from bots.kept import resend_kept
from bots.metrics import Metrics
from bots.owner import OwnerNote
from bots.texts import SORRY
from flows.chain import MAX_CALLS, Chain, GiveUp
from flows.engine import give_up
from flows.types import (
    AttachmentEvent,
    CallHttp,
    DialogState,
    Event,
    Inbound,
    Reply,
    ResumeEvent,
    TimerEvent,
    Turn,
)
from storage.codec import encode_effects
from storage.errors import LockLost, StorageError, StorageUnavailable, VersionConflict
from storage.history import HistoryEntry
from storage.inbox import Rows
from storage.locks import Lease, Lock
from storage.outbox import Prepared
from storage.store import Sent

if TYPE_CHECKING:
    from flows.model import FlowSet
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

_RETRY_LATER = (StorageUnavailable, LockLost, VersionConflict)


class NoticeHook(Protocol):
    """``bots.ladder.Ladder``, as a reminder's turn tells it what the notice says (before
    delivering: a process killed during the delivery must not leave it blank) and whether a
    messenger took it (True: a notice takes the reminder over)."""

    async def told(self, customer: str, event_id: str, replies: Sequence[Reply]) -> None: ...

    async def messenger_done(self, customer: str, event_id: str, replies: Sequence[Reply],
                             delivered: bool) -> bool: ...


class Advance(Protocol):
    def __call__(self, flows: FlowSet, state: DialogState | None, event: Event,
                 now: datetime) -> Turn: ...

Clock = Callable[[], datetime]


@dataclass(slots=True)
class Leftovers:
    """What a run that Redis failed left to settle (``bots.recovery``): replies delivered but
    not acknowledged (those a save kept unanswered: the next lease's, ``bots.kept``)."""

    unacked: list[Sent] = field(default_factory=list)


@dataclass(slots=True)
class _Ctx:
    """What a turn knows about itself, for its log line and its history entries."""

    customer: str
    entry_id: str
    inbound: Inbound
    sent: list[Sent]
    held: Held
    flow: str = "-"
    step: str = "-"
    recorded: bool = False  # the inbound entry is in the customer's history
    queued: tuple[Prepared, ...] = ()  # replies kept with the state, not yet delivered
    notice: tuple[Reply, ...] = ()  # a reminder's own replies (without a re-asked question)


class TurnRunner:
    """A customer's inbox under a lease: load → advance → save → effects → deliver."""

    def __init__(
        self, *, store: Store, flows: Callable[[], FlowSet], advance: Advance,
        delivery: Delivery, effects: Effects, metrics: Metrics, clock: Clock,
        owner_notify: Callable[[OwnerNote], Awaitable[None]] | None,
        kick: Callable[[str], None], handed: Callable[[str], Lease | None],
        covered: Callable[[str], bool] = lambda _customer: False,
        notices: NoticeHook | None = None,
    ) -> None:
        self._store = store
        self._flows = flows
        self._advance = advance
        self._delivery = delivery
        self._effects = effects
        self._metrics = metrics
        self._clock = clock
        self._owner_notify = owner_notify
        self._kick = kick  # a customer whose inbox a merge filled
        self._handed = handed  # a lease this process's accept took while we waited
        # Before each release: a note to look at the inbox again that the release's own
        # check answers (``Dispatch.covered``); True when there was one.
        self._covered = covered
        self._notices = notices  # a critical reminder's ladder (bots.ladder) hears its fate
        self.funnel = FunnelCounts(metrics, flows, clock)  # counted by the turn's save

    async def process(self, customer: str, lease: Lease | None, left: Leftovers) -> None:
        """Lock, then load: run every pending inbox entry of ``customer`` in order."""
        store = self._store
        # Taken by the accept, or now; either way the state and the inbox were read with it.
        lease = lease or await store.states.locks.lease(
            customer, handed=lambda: self._handed(customer))
        held = Held(lease.lock, lease.snapshot, effects=lease.effects is not None,
                    renewed=lease.lock.taken, mark=lease.snapshot.mark)
        seen: set[str] = set()
        sent: list[Sent] = []  # delivered replies, acknowledged with the next round trip
        holding = True
        try:
            await self._cut(lease, held, sent)
            rows = await store.inbox.decode(customer, lease.rows)
            # Entries pushed while we hold the lock are ours too (another process waiting
            # for this lock may have given up meanwhile): release only once the inbox is empty.
            while fresh := [(i, e) for i, e in rows if i not in seen]:
                for entry_id, inbound in fresh:
                    # Replies are recorded before the next message; the lock must outlive
                    # a long backlog (each save renews it).
                    if seen and (sent or held.stale()):
                        await store.acknowledge(sent, extend=held.lock)
                        held.renewed = time.monotonic()
                    seen.add(entry_id)
                    if not await self._turn(_Ctx(customer, entry_id, inbound, sent, held), left):
                        return  # merged into another customer: the rest moved there
                more = await self._release_if_idle(held, sent)
                holding = bool(more)  # None: released; []: no longer ours
                rows = await store.inbox.decode(customer, more or [])
        finally:
            if holding:  # also after a merge: the replies are acknowledged, the lock is gone
                await self._release(held.lock, sent, left)

    async def _cut(self, lease: Lease, held: Held, sent: list[Sent]) -> None:
        """The customer's last turn was saved, then its process died before the release: its
        kept replies go first (``bots.kept``; acknowledged at once), then its effects, which
        may not have run (a kill between the save and them): so a booking's reminder is not
        lost; each is safe to run twice. Redis failing stops here as in a turn: they stay
        stored for next time."""
        customer = lease.lock.customer
        if lease.replies is not None:
            held.kept += await resend_kept(self._delivery, self._store, lease.lock,
                                           lease.replies, sent)
            await self._store.acknowledge(sent, extend=held.lock)
            held.renewed = time.monotonic()
        if lease.effects is None:
            return
        try:
            ran = await self._effects.replay(customer, lease.effects)
        except StorageError:
            raise
        except Exception:  # a broken effect must not block the customer's inbox forever
            log.exception("effects of a turn cut short not run", extra={"customer": customer})
            return
        log.info("ran again the %d effects of %s's last turn: its process stopped before the "
                 "release", ran, customer)

    async def _release_if_idle(self, held: Held, sent: list[Sent]) -> Rows | None:
        """``Store.release_if_idle``; its check of the inbox answers ``Dispatch.covered``."""
        held.snapshot = None
        noted = self._covered(held.lock.customer)
        more = await self._store.release_if_idle(held.lock, sent, effects=held.effects,
                                                 gone=held.gone())
        held.kept = []  # (deleted, or no longer ours)
        if noted and more == []:  # no longer ours: the release checked nothing
            self._kick(held.lock.customer)
        return more

    async def _release(self, lock: Lock, sent: list[Sent], left: Leftovers) -> None:
        try:
            await self._store.release(lock, sent)
        except StorageError:
            # Unanswered, it may still hold the lock and leave delivered replies in the
            # outbox (a later re-send would double them): settled by ``bots.recovery``.
            self._store.states.locks.orphans.add(lock.customer, lock.token)
            left.unacked += sent
            raise

    async def _turn(self, ctx: _Ctx, left: Leftovers) -> bool:
        """One inbox entry; False when the account was joined to another customer."""
        started = time.perf_counter()
        go_on = True
        try:
            await self._delivery.acknowledge(ctx.inbound)
            if isinstance(ctx.inbound.event, AttachmentEvent):  # (marked by the accept, unless
                # its process died first: copies to make, for any process's sweep)
                await self._store.files.mark(ctx.customer, ctx.inbound.event.attachments)
            event, moved = await self._link(ctx)
            go_on = not moved
            if event is not None:
                await self._run(ctx, event)
        except _RETRY_LATER:
            # Redis stalled or the lock was lost mid-turn: the entry stays pending (the save
            # that settles it did not happen) and is run again — never settled with an
            # apology, which would lose a reminder. Or the save did happen, unanswered: then
            # its replies wait in the state, and the next lease sends them (``bots.kept``).
            self._metrics.turn_errors.inc()
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
        self._metrics.turn_time(ctx.inbound.channel).observe(elapsed)
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
        ctx.held.saved = None  # linking may merge customers: read the state again
        if plan.moved_to is not None:  # its entry was settled before the merge moved the inbox
            await self._effects.merged(ctx.customer, plan.moved_to)
            ctx.customer = plan.moved_to
        elif plan.event is None:  # else the turn's save settles and records it
            await self._store.inbox.done(ctx.customer, ctx.entry_id)
        if plan.event is None:  # noted as linking: no message of the customer's own
            entry = inbound_entry(ctx.inbound)
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
            self._kick(plan.moved_to)
        return plan.event, plan.moved_to is not None

    async def _run(self, ctx: _Ctx, event: Event) -> None:
        """Load → advance → save → effects → deliver, for the event and what its effects
        feed back (``flows.chain``: HTTP results, bounded)."""
        held = ctx.held
        state, version = await self._load(ctx)
        ctx.flow, ctx.step = position(state)
        chain, first = Chain(event), True
        while (item := chain.next()) is not None:
            if isinstance(item, CallHttp):
                await self._store.states.locks.extend(held.lock)
                chain.feed(await self._effects.call(item))
                continue
            turn = self._next_turn(ctx, state, item)
            # Replies are kept with the state (a crash after it re-sends them: bots.kept);
            ctx.queued = queued = () if is_initiated(ctx.inbound.event) else tuple(
                self._delivery.prepare(ctx.customer, ctx.inbound, turn.replies))
            writes, rest = riding(turn.effects)  # profile fields and tags: in the save
            effects = encode_effects(ctx.inbound.channel, rest)
            renew = held.stale()  # a fresh lock needs no PEXPIRE
            marks = held.marks(ctx.customer, self._store.states.mark())  # no read of the state
            version = await self._store.states.save(
                ctx.customer, turn.state, version=version, lock=held.lock,
                inbox_id=ctx.entry_id if first else None,
                history=inbound_entry(ctx.inbound) if first else None,
                replies=queued, effects=held.effects_to_save(ctx.customer, effects),
                counts=self.funnel.counts(turn.happened, ctx.inbound.channel),
                reached=self.funnel.reached(turn.happened), renew=renew, writes=writes,
                marks=marks)
            held.stored(ctx.customer, turn.state, version, effects, renewed=renew, marks=marks)
            held.kept += [entry.id for entry in queued]
            self.funnel.saved(turn.happened, ctx.inbound.channel)
            ctx.recorded, first, state = True, False, turn.state
            ctx.flow, ctx.step = position(state)
            outcome = await self._effects.run(ctx.customer, ctx.inbound, rest)
            ctx.notice = turn.replies[:turn.resumed]
            if self._notices is not None and isinstance(ctx.inbound.event, TimerEvent):
                await self._notices.told(ctx.customer, ctx.inbound.event_id, ctx.notice)
            await self._deliver(ctx, (*turn.replies, *outcome.replies))
            ctx.queued = ()
            chain.feed(*outcome.events, *outcome.calls)

    async def _load(self, ctx: _Ctx) -> tuple[DialogState | None, int]:
        """The lease's last save (a later entry), else the state read with the lock, else
        read now (after a merge the turn runs for another customer)."""
        held = ctx.held
        if ctx.customer != held.lock.customer:
            return await self._store.states.load(ctx.customer)
        if held.saved is not None:
            return held.saved
        return await self._store.states.load(ctx.customer, snapshot=held.first_read())

    def _next_turn(self, ctx: _Ctx, state: DialogState | None, item: Event | GiveUp) -> Turn:
        if not isinstance(item, GiveUp):
            turn = self._advance(self._flows(), state, item, self._clock())
            if turn.failure is not None:  # the owner's flow broke: never silently
                self._metrics.turn_errors.inc()
                log.error("%s; the customer got an apology, the dialogue stays at its step",
                          turn.failure, extra={"customer": ctx.customer, "flow": ctx.flow,
                                               "step": ctx.step})
            return turn
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
            kept = Kept(ctx.held.lock, ctx.queued) if ctx.queued else None
            await self._delivery.reply(ctx.customer, ctx.inbound, replies, sent=ctx.sent,
                                       kept=kept)
            return
        why: Why = "reminder" if isinstance(ctx.inbound.event, TimerEvent) else "notice"
        result = await self._delivery.deliver(Send(ctx.customer, replies, why))
        if result.target is not None:
            ctx.inbound = retarget(ctx.inbound, result.target.channel, result.target.user_id)
        laddered = self._notices is not None and isinstance(ctx.inbound.event, TimerEvent) \
            and await self._notices.messenger_done(ctx.customer, ctx.inbound.event_id,
                                                   ctx.notice or replies, result.target is not None)
        if result.target is None and not laddered:
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

    async def _apologise(self, ctx: _Ctx) -> None:
        try:
            # the failed turn's kept replies: the apology replaces them
            await self._store.kept.ack(ctx.customer, [entry.id for entry in ctx.queued])
            await self._store.inbox.done(ctx.customer, ctx.entry_id)
            if not ctx.recorded:  # the failed turn's save would have recorded it
                await self._store.history.append(ctx.customer, inbound_entry(ctx.inbound))
                ctx.recorded = True
            if not is_initiated(ctx.inbound.event):
                await self._delivery.reply(ctx.customer, ctx.inbound, [Reply(SORRY)])
        except Exception:  # storage or channel down as well: the sweeper retries the entry
            log.warning("apology not delivered", extra={"customer": ctx.customer})
