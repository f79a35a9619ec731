"""The owner's side of broadcasts: create, dry-run, start (queue the segment's customers),
pause, resume, cancel, and the numbers per channel (queued, sent, refused per error, skipped,
replied, unsubscribed, converted).

An advertising broadcast is queued only for customers with a live advertising consent
(whatever its segment says) and checked again when sent. Sending is
``bots.broadcast_send``'s; the pure parts are ``flows.segments`` and ``flows.broadcast``.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Mapping

from bots.audience import recipients
from flows.broadcast import BroadcastSpec, conversion_problem
from flows.segments import Segment
from storage.broadcast_numbers import After
from storage.broadcasts import Record, Status
from storage.store import Store

BATCH = 200  # recipients whose replies and conversions are read at a time


class BroadcastError(ValueError):
    """The owner's request cannot be done (unknown segment, wrong state); the text says why."""


class UnknownStep(BroadcastError):
    """``converts_at`` names no flow or step of the bot's flows (the text says so, in
    Russian: the owner reads it)."""


def new_id() -> str:
    return f"b{time.strftime('%Y%m%d')}-{secrets.token_hex(3)}"


class Broadcaster:
    """Creates, starts, pauses, resumes and cancels broadcasts; their numbers."""

    def __init__(self, *, store: Store, segments: Callable[[], Mapping[str, Segment]],
                 clock: Callable[[], float] = time.time,
                 steps: Callable[[], Collection[str]] | None = None) -> None:
        self._store = store
        self._segments = segments
        self._clock = clock
        self._steps = steps  # the flows and steps ``converts_at`` may name (None: unchecked)

    # ----------------------------------------------------------------- the owner's commands

    async def create(self, spec: BroadcastSpec, broadcast: str | None = None) -> str:
        if spec.segment not in self._segments():
            raise BroadcastError(f"no segment {spec.segment!r} in _segments.yaml")
        self.check(spec)
        name = broadcast or new_id()
        if not await self._store.broadcasts.create(name, spec.model_dump_json()):
            raise BroadcastError(f"broadcast {name!r} exists already")
        return name

    def check(self, spec: BroadcastSpec) -> None:
        """``UnknownStep`` when ``converts_at`` names no flow or step of the bot's flows."""
        if self._steps is not None and (why := conversion_problem(spec, self._steps())):
            raise UnknownStep(why.render())

    async def start(self, broadcast: str) -> int:
        """Queue the segment's customers now and send (or wait for ``at``); how many."""
        record, spec = await self._load(broadcast)
        if record.status not in ("draft", "paused"):
            raise BroadcastError(f"broadcast {broadcast} is {record.status}")
        if record.status == "paused":
            await self._store.broadcasts.set_status(broadcast, "running")
            return await self._store.broadcasts.left(broadcast)
        queued = await self._queue(broadcast, spec)
        due = spec.at.timestamp() if spec.at is not None else 0.0
        status: Status = "scheduled" if due > self._clock() else "running"
        await self._store.broadcasts.set_status(broadcast, status, started=self._clock(),
                                                queued=queued)
        return queued

    async def pause(self, broadcast: str) -> None:
        await self._change(broadcast, ("running", "scheduled"), "paused")

    async def cancel(self, broadcast: str) -> None:
        await self._change(broadcast, ("draft", "running", "scheduled", "paused"), "cancelled")

    async def _change(self, broadcast: str, allowed: Collection[str], status: Status) -> None:
        record, _ = await self._load(broadcast)
        if record.status not in allowed:
            raise BroadcastError(f"broadcast {broadcast} is {record.status}")
        await self._store.broadcasts.set_status(broadcast, status)

    async def dry_run(self, spec: BroadcastSpec) -> Counter[str]:
        """How many customers would get it now, per channel."""
        found: Counter[str] = Counter()
        async for batch in self._audience(spec):
            found.update(account.partition(":")[0] for _, account in batch)
        return found

    async def _load(self, broadcast: str) -> tuple[Record, BroadcastSpec]:
        record = await self._store.broadcasts.get(broadcast)
        if record is None:
            raise BroadcastError(f"no broadcast {broadcast!r}")
        return record, BroadcastSpec.model_validate_json(record.spec)

    def _audience(self, spec: BroadcastSpec) -> AsyncIterator[list[tuple[str, str]]]:
        segment = self._segments().get(spec.segment)
        if segment is None:
            raise BroadcastError(f"no segment {spec.segment!r} in _segments.yaml")
        if spec.kind == "ads":  # advertising: a live consent, whatever the segment says
            segment = segment.model_copy(update={"consent": "ads"})
        return recipients(self._store, segment, self._clock())

    async def _queue(self, broadcast: str, spec: BroadcastSpec) -> int:
        total = 0
        by_channel: Counter[str] = Counter()
        async for batch in self._audience(spec):
            await self._store.broadcasts.enqueue(broadcast, [c for c, _ in batch], total)
            by_channel.update(account.partition(":")[0] for _, account in batch)
            total += len(batch)
        await self._store.broadcasts.count(broadcast, "queued", dict(by_channel))
        return total

    def segments(self) -> Mapping[str, Segment]:
        return self._segments()

    def steps(self) -> list[str]:
        """The flows and steps ``converts_at`` may name, sorted (empty: unknown)."""
        return sorted(self._steps()) if self._steps is not None else []

    # ----------------------------------------------------------------- numbers

    async def numbers(self, broadcast: str) -> dict[str, dict[str, int]]:
        """Per channel: queued, sent, refused (per error), skipped, and the replies,
        unsubscriptions and conversions counted so far (refreshed here)."""
        record, spec = await self._load(broadcast)
        if record.started is not None:
            await self._refresh_marks(broadcast, spec, record.started)
        return await self._store.broadcasts.numbers.stats(broadcast)

    async def _refresh_marks(self, broadcast: str, spec: BroadcastSpec, since: float) -> None:
        numbers = self._store.broadcasts.numbers
        sent = [(c, o.partition(" ")[2]) for c, o in (await numbers.outcomes(broadcast)).items()
                if o.startswith("sent ")]
        for start in range(0, len(sent), BATCH):
            chunk = sent[start:start + BATCH]
            found = await numbers.since([c for c, _ in chunk], since, step=spec.converts_at,
                                        note=f"broadcast {broadcast}")
            for (customer, channel), after in zip(chunk, found, strict=True):
                if after.replied:
                    await numbers.mark(broadcast, customer, "replied", channel)
                if after.unsubscribed:
                    await numbers.mark(broadcast, customer, "unsubscribed", channel)
                if converted(spec, after, since):
                    await numbers.mark(broadcast, customer, "converted", channel)


def converted(spec: BroadcastSpec, after: After, since: float) -> bool:
    """Did the recipient convert: entered ``converts_at`` after their copy reached them (its
    history entry's time; the broadcast's start when that is no longer among the last
    entries), or (the older form) have the ``converted`` tag (those who had it before were
    excluded when sent)."""
    if spec.converts_at is not None:
        return after.reached is not None and after.reached >= (after.got or since)
    return spec.converted is not None and spec.converted in after.tags
