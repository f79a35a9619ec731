"""Abuse limits of the web chat: messages per second per session, new customers per second
per address, sockets per address.

Plain bookkeeping with an injectable clock; the server decides what to tell the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(slots=True)
class MessageRate:
    """A token bucket per session: ``rate`` messages a second, bursts up to ``burst``.

    Shared by all sockets of a session, so opening more tabs buys no extra messages. Keyed by
    address, it limits how many new customers one address creates. At most ``keep`` keys are
    remembered: beyond that the oldest bucket is dropped (its key starts with a full burst
    again), so a flood of distinct keys cannot grow memory without bound.
    """

    rate: float = 5.0
    burst: float = 10.0
    clock: Callable[[], float] = time.monotonic
    keep: int = 100_000
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def allow(self, session_id: str) -> bool:
        now = self.clock()
        bucket = self._buckets.get(session_id)
        if bucket is None:
            if len(self._buckets) >= self.keep:
                del self._buckets[next(iter(self._buckets))]
            bucket = self._buckets[session_id] = _Bucket(tokens=self.burst, stamp=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def forget(self, session_id: str) -> None:
        """Drop the bucket once a session has no socket (it refills fully by then anyway)."""
        self._buckets.pop(session_id, None)


@dataclass(slots=True)
class ConnectionCount:
    """Open sockets per remote address, at most ``limit`` each."""

    limit: int = 20
    _open: dict[str, int] = field(default_factory=dict)

    def acquire(self, address: str) -> bool:
        count = self._open.get(address, 0)
        if count >= self.limit:
            return False
        self._open[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)
