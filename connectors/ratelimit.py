"""A platform's request-rate limit shared by every process that sends with one bot token.

``SharedLimiter`` keeps ``connectors.common.ArrivalLimiter``'s promise (at most ``rate``
requests ARRIVE at the platform in any window shorter than ``per`` seconds) across processes
and hosts: each request first takes a slot in this process (``ArrivalLimiter``: live replies
served before bulk sends, a bounded queue per process), then a slot in the shared store
(``SharedSlots``, injected by ``bots``: ``storage.ratelimit`` runs one Redis script per slot,
with the same rule on the Redis server's clock).

The fast lane: bulk sends (reminders, broadcasts) may hold at most ``rate - reserve`` slots,
here and in the shared store, so ``reserve`` slots in every window stay free for live replies
however long the bulk queue is.

The fallback: when the shared store does not answer within ``patience`` seconds (slow or down),
this process alone may grant at most ``rate // peers`` slots in a window, counting every
request it sent (granted by the store or not), where ``peers`` is the number of processes the
store last reported sending with this token. Every process falls back the same way when the
store is down, so together they stay within ``rate``. That count is trusted only once it was
taken ``SETTLE`` seconds after this process first counted itself (the store counts the peers
that marked themselves within the last second): processes starting together first see fewer
peers than there are. Until then the fallback grants nothing: the request waits for the store
(seen: three senders starting on a loaded machine each took the whole rate, 44 a second).
A slot the store granted but whose release is lost stays counted until the store's lease on
it ends (conservative).

This module knows no Redis: ``SharedSlots`` is the seam. Must not import storage or bots.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from connectors.base import Priority
from connectors.common import ArrivalLimiter
from flows.errors import SvyazError

log = logging.getLogger("svyaz.connectors.ratelimit")

PATIENCE = 0.5  # seconds a shared take may take before this process falls back
POLL_MIN = 0.005  # the shortest and longest pause before asking the store again
POLL_MAX = 0.05
PROBE_EVERY = 1.0  # while falling back, seconds between asks whether the store answers again
SETTLE = 1.0  # seconds after its first count of the peers before this process trusts one
# (the default; ``bots.ratelimits`` passes the store's own interval between marks)


class Grant(Protocol):
    """The shared store's answer to a take: granted or not, how long until a slot may free
    (seconds; a guess when every slot is in flight) and how many processes send now."""

    @property
    def granted(self) -> bool: ...

    @property
    def wait(self) -> float: ...

    @property
    def peers(self) -> int:
        """Processes sending now; -1 when the store did not count them this time."""


class SharedSlots(Protocol):
    """The store side of a shared limit (``storage.ratelimit.RedisSlots``)."""

    def take(self, slot_id: str, *, limit: int) -> Awaitable[Grant]:
        """Take slot ``slot_id`` if fewer than ``limit`` are in flight or freed < per ago.
        Raises a ``SvyazError`` (storage's) or ``TimeoutError`` when it cannot tell."""

    def release(self, slot_id: str) -> Awaitable[None]:
        """The request of ``slot_id`` is answered: its slot frees ``per`` seconds from now."""


class RateLimiter(Protocol):
    """What a platform client needs of a limiter (``ArrivalLimiter`` or ``SharedLimiter``)."""

    rate: int
    per: float

    def slot(self, priority: Priority = "live") -> contextlib.AbstractAsyncContextManager[None]:
        """Hold a slot around one request."""


class _Window:
    """This process's own requests: in flight, and released within ``per`` (the fallback)."""

    def __init__(self, per: float, clock: Callable[[], float]) -> None:
        self.per = per
        self._clock = clock
        self.in_flight = 0
        self._released: deque[float] = deque()

    def taken(self) -> int:
        now = self._clock()
        while self._released and self._released[0] <= now - self.per:
            self._released.popleft()
        return self.in_flight + len(self._released)

    def frees_in(self) -> float:
        return (self._released[0] + self.per - self._clock()) if self._released else POLL_MAX

    def release(self) -> None:
        self.in_flight -= 1
        self._released.append(self._clock())


class SharedLimiter:
    """``rate`` arrivals per ``per`` seconds across every process sharing ``slots``."""

    def __init__(
        self,
        slots: SharedSlots,
        *,
        rate: int,
        per: float = 1.0,
        reserve: int | None = None,
        name: str = "",
        patience: float = PATIENCE,
        settle: float = SETTLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.per = per
        self.reserve = max(1, rate // 5) if reserve is None else reserve
        self.name = name
        self.patience = patience
        self.settle = settle  # at least the store's interval between a process's marks
        self.peers = 0  # the senders the store counted (0: not known yet); the fallback divides
        self._counted_at: float | None = None  # when the store first counted the peers for us
        self.falling_back = False
        self._slots = slots
        self._local = ArrivalLimiter(rate, per, clock=clock)
        self._bulk = ArrivalLimiter(max(1, rate - self.reserve), per, clock=clock)
        self._own = _Window(per, clock)
        self._clock = clock
        self._probe_at = 0.0  # while falling back: when to ask the store again
        self._prefix = f"{random.getrandbits(64):016x}"
        self._count = 0

    @asynccontextmanager
    async def slot(self, priority: Priority = "live") -> AsyncIterator[None]:
        """Hold a slot here and in the shared store around one request."""
        async with contextlib.AsyncExitStack() as held:
            if priority == "bulk":
                await held.enter_async_context(self._bulk.slot("bulk"))
            await held.enter_async_context(self._local.slot(priority))
            slot_id = await self._shared(self._limit(priority))
            try:
                yield
            finally:
                self._own.release()
                if slot_id is not None:
                    await self._release(slot_id)

    def _limit(self, priority: Priority) -> int:
        return self.rate if priority == "live" else max(1, self.rate - self.reserve)

    async def _shared(self, limit: int) -> str | None:
        """Wait for a shared slot; its id, or None when granted by the fallback."""
        while True:
            grant = await self._ask(limit) if self._store_due() else None
            if grant is None:  # the store is slow or down: this process's share only
                if self.peers and self._own.taken() < max(1, limit // self.peers):
                    self._own.in_flight += 1
                    return None
                await asyncio.sleep(min(max(self._own.frees_in(), POLL_MIN), POLL_MAX))
                continue
            slot_id, answer = grant
            self._recovered(answer.peers)
            if answer.granted:
                self._own.in_flight += 1
                return slot_id
            pause = min(max(answer.wait, POLL_MIN), POLL_MAX)
            await asyncio.sleep(pause * random.uniform(0.5, 1.0))

    def _store_due(self) -> bool:
        return not self.falling_back or self._clock() >= self._probe_at

    async def _ask(self, limit: int) -> tuple[str, Grant] | None:
        """One take in the store: the slot id and the answer, None when none came in time."""
        self._count += 1
        slot_id = f"{self._prefix}:{self._count}"
        try:  # (asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            async with asyncio.timeout(self.patience):  # that meets the answer, and a
                answer = await self._slots.take(slot_id, limit=limit)  # poller never stops)
        except (SvyazError, TimeoutError) as exc:  # slow or down (storage's errors)
            self._fell_back(exc)
            return None
        return slot_id, answer

    async def _release(self, slot_id: str) -> None:
        try:
            async with asyncio.timeout(self.patience):
                await self._slots.release(slot_id)
        except (SvyazError, TimeoutError) as exc:  # the store's lease on it ends by itself
            self._fell_back(exc)

    def _fell_back(self, exc: Exception) -> None:
        self._probe_at = self._clock() + PROBE_EVERY
        if not self.falling_back:
            self.falling_back = True
            log.warning("%s rate limit: the shared store did not answer (%s); this process "
                        "sends at most %d per %.1f s until it does", self.name or "platform",
                        type(exc).__name__, self.rate // self.peers if self.peers else 0,
                        self.per)

    def _recovered(self, peers: int) -> None:
        if peers > 0:
            now = self._clock()
            if self._counted_at is None:
                self._counted_at = now
            if now - self._counted_at >= self.settle:
                self.peers = peers
        if self.falling_back:
            self.falling_back = False
            log.info("%s rate limit: the shared store answers again", self.name or "platform")
