"""Sending broadcasts: each copy through the outbox on the bulk lane (live replies go first),
outside quiet hours, while the broadcast runs.

A copy is claimed together with its outbox entry (``Broadcasts.claim``): after a kill -9 the
outbox re-sends what was written and the queue goes on with the rest, so every customer gets
one copy — and one person merged from two customers one copy too (the claims of the merged
ids are checked first). A broadcast that starts a flow injects the flow's start with an event
id of the broadcast: the inbox's de-duplication makes that once. VK copies of a text go up to
100 per request once the pass has looked at each customer (``bots.broadcast_vk``, which claims
them per batch). Refusals are counted per platform error. It must not decide who is in a
segment (``bots.broadcasts`` queued them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from bots.broadcast_vk import Member, VkBatches
from bots.delivery import Delivery, Send, Target, plan_initiated
from flows.broadcast import BroadcastSpec, opens_at, reply_of
from flows.segments import Segment
from flows.types import Channel, Event, Reply, StartFlowEvent
from storage.broadcasts import Record
from storage.store import Store

Inject = Callable[..., Awaitable[bool]]  # ``Runtime.inject(customer, event, event_id=)``
BATCH = 1000  # customers taken from the queue at a time (a batch waits for its slowest copy)
RECHECK = 50  # copies between two looks at the broadcast's status and the quiet hours
PARALLEL = 64  # copies on their way at once (the connectors' limiters pace them)
EVERY = 1.0  # seconds between the app's passes over the running broadcasts when idle
TICK_BUDGET = 5.0  # seconds one pass may go on sending (the app's stop waits at most that)


def more_to_send(handled: object) -> bool:
    """Whether the app's loop goes on at once after a ``tick`` that ``handled`` so many copies.

    One that sent any stopped for its budget or found the queues empty since; the next tick
    finds out which, for one look at the broadcasts. A pause there idled the platforms'
    limits a second per batch: about 20 s of the 333 s 20,000 customers take (bench/README)."""
    return isinstance(handled, int) and handled > 0


class Looked:
    """The customers of a pass not yet looked at; ``all`` is set once none is left (each is a
    VK member by then, or its copy is going out or was settled)."""

    def __init__(self, customers: list[str]) -> None:
        self._left = set(customers)
        self.all = asyncio.Event()
        if not self._left:
            self.all.set()

    def seen(self, customer: str) -> None:
        self._left.discard(customer)
        if not self._left:
            self.all.set()


class Sender:
    """Sends the running broadcasts, a batch at a time (``tick`` from the app's loop)."""

    def __init__(self, *, store: Store, delivery: Delivery, inject: Inject,
                 segments: Callable[[], Mapping[str, Segment]], timezone: str,
                 clock: Callable[[], float] = time.time,
                 vk_batches: VkBatches | None = None) -> None:
        self._store = store
        self._vk = vk_batches  # VK copies up to 100 per request (``bots.broadcast_vk``)
        self._delivery = delivery
        self._inject = inject
        self._segments = segments
        self._zone = ZoneInfo(timezone)
        self._clock = clock

    async def tick(self) -> int:
        """Passes over every live broadcast for up to ``TICK_BUDGET`` seconds (no pause between
        batches while there is work): a scheduled one whose time came starts, a running one
        outside its quiet hours sends batches; how many copies were handled."""
        handled, until = 0, time.monotonic() + TICK_BUDGET
        while True:
            done = 0
            for broadcast in await self._store.broadcasts.ids():
                record = await self._store.broadcasts.get(broadcast)
                if record is None or record.status not in ("scheduled", "running"):
                    continue
                done += await self._step(record, BroadcastSpec.model_validate_json(record.spec))
            handled += done
            if not done or time.monotonic() > until:
                return handled

    async def drain(self, broadcast: str) -> int:
        """Send until the queue is empty, paused, cancelled or in quiet hours."""
        total = 0
        while True:
            record = await self._store.broadcasts.get(broadcast)
            if record is None:
                return total
            done = await self._step(record, BroadcastSpec.model_validate_json(record.spec))
            if not done:
                return total
            total += done

    def waiting_until(self, spec: BroadcastSpec) -> datetime | None:
        """The end of the quiet hours the business's clock is in now (None: it may go)."""
        now = datetime.fromtimestamp(self._clock(), self._zone)
        return opens_at(spec.quiet_hours, now)

    async def _step(self, record: Record, spec: BroadcastSpec) -> int:
        broadcasts = self._store.broadcasts
        if record.status not in ("scheduled", "running"):
            return 0
        if record.status == "scheduled":
            if spec.at is not None and spec.at.timestamp() > self._clock():
                return 0
            await broadcasts.set_status(record.id, "running")
        if self.waiting_until(spec) is not None:
            return 0
        customers = await broadcasts.queued(record.id, BATCH)
        if not customers:
            await broadcasts.set_status(record.id, "done", finished=self._clock())
            return 0
        reply = reply_of(spec) if spec.text is not None else None
        gate = asyncio.Semaphore(PARALLEL)
        going = [True]  # still running and outside quiet hours (looked at every RECHECK)
        batch: list[Member] = []  # VK copies, sent together once each customer was looked at
        looked = Looked(customers)

        async def one(index: int, customer: str) -> None:
            try:
                async with gate:
                    if index % RECHECK == 0:
                        going[0] = await self._going(record.id, spec)
                    if going[0]:
                        await self._send_one(record.id, spec, reply, customer, batch, looked)
            finally:
                looked.seen(customer)

        await asyncio.gather(*(one(i, c) for i, c in enumerate(customers)),
                             self._send_batch(record.id, spec, reply, batch, looked))
        return len(customers)

    async def _send_batch(self, broadcast: str, spec: BroadcastSpec, reply: Reply | None,
                          batch: list[Member], looked: Looked) -> None:
        """The pass's VK copies, as soon as every customer was looked at: beside the last
        single copies still waiting for MAX's limit, which would otherwise stand idle while
        the batch went out before the next pass (a few tenths of a second per pass)."""
        await looked.all.wait()
        if batch and reply is not None and self._vk is not None \
                and await self._going(broadcast, spec):
            await self._vk.send(broadcast, reply, batch, self._allowed(spec))

    async def _going(self, broadcast: str, spec: BroadcastSpec) -> bool:
        """Not paused or cancelled since the batch began, and not in quiet hours now."""
        record = await self._store.broadcasts.get(broadcast)
        return (record is not None and record.status == "running"
                and self.waiting_until(spec) is None)

    async def _send_one(self, broadcast: str, spec: BroadcastSpec, reply: Reply | None,
                        customer: str, batch: list[Member], looked: Looked) -> None:
        broadcasts, store = self._store.broadcasts, self._store
        merged = await broadcasts.merged_into(customer)
        if len(merged) > 1 and await broadcasts.claimed(broadcast, merged[1:]):
            await broadcasts.finish(broadcast, customer, "skipped", "-", "merged")
            return
        profile = await store.profiles.get(customer)
        if spec.kind == "ads" and not profile.ads_consent:
            await broadcasts.finish(broadcast, customer, "skipped", "-", "no_consent")
            return
        if spec.converted is not None and spec.converted in profile.tags:
            await broadcasts.numbers.exclude(broadcast, customer, "converted")  # had it before
        target = await self._target(spec, customer)
        if target is None:
            await broadcasts.finish(broadcast, customer, "skipped", "-", "no_account")
            return
        if reply is None:
            await self._start_flow(broadcast, spec, customer, target)
            return
        if target.channel == "vk" and self._vk is not None and reply.file is None:
            batch.append(Member(customer, target.user_id))  # (claimed with its batch)
            return
        entry = store.outbox.prepare(customer, target.channel, target.user_id, reply)
        if not await broadcasts.claim(broadcast, customer, entry):
            # taken before a crash: its entry is in the outbox (re-sent) or was sent
            await broadcasts.finish(broadcast, customer, "sent", target.channel, "sent")
            return
        send = Send(customer, (reply,), "broadcast", note=f"broadcast {broadcast}",
                    channels=self._allowed(spec))  # (failing over within the segment)
        looked.seen(customer)  # (not a VK member: the batch need not wait for this copy)
        delivered = await self._delivery.deliver(send, queued=[entry.id])
        if delivered.target is not None:
            await broadcasts.finish(broadcast, customer, "sent", delivered.target.channel,
                                    "sent")
        else:
            error = delivered.refused or "nowhere"
            await broadcasts.finish(broadcast, customer, f"refused {error}", target.channel,
                                    f"refused {error}")

    def _allowed(self, spec: BroadcastSpec) -> frozenset[Channel]:
        """The channels a copy may go to: those switched on, within the segment's if it names
        some."""
        segment = self._segments().get(spec.segment)
        named = segment.channels() if segment is not None else frozenset()
        return self._delivery.channels & named if named else self._delivery.channels

    async def _target(self, spec: BroadcastSpec, customer: str) -> Target | None:
        accounts, routes = await self._store.identities.reach(customer)
        targets = plan_initiated(accounts, self._allowed(spec), routes)
        return targets[0] if targets else None

    async def _start_flow(self, broadcast: str, spec: BroadcastSpec, customer: str,
                          target: Target) -> None:
        event: Event = StartFlowEvent(flow=spec.flow or "", vars={"broadcast": broadcast})
        await self._inject(customer, event, event_id=f"broadcast-{broadcast}")
        await self._store.broadcasts.finish(broadcast, customer, "sent", target.channel, "sent")
