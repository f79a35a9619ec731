"""Polling waits for tests: wait *until* something happened, never a fixed time.

A fixed ``sleep(0.3)`` that stands in for "until the waiter polls" or "until the reply is
out" is either too short on a loaded machine (a flaky failure) or longer than needed
everywhere else. ``until`` checks a condition often and gives up only after a generous
``timeout`` (a failure, with what was awaited); a fast machine waits no longer than the
event takes. Sleeps that are part of what a test does (a slow client, a pause between
messages, a lock left to expire) stay sleeps.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

EVERY = 0.01  # seconds between checks
TIMEOUT = 10.0  # far beyond any healthy wait; only a real failure reaches it


async def until(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = TIMEOUT,
    *,
    every: float = EVERY,
    what: str = "",
) -> T:
    """The predicate's first truthy value (it may be sync or async); AssertionError once
    ``timeout`` seconds pass without one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if loop.time() >= deadline:
            name = what or getattr(predicate, "__name__", "condition")
            raise AssertionError(f"{name} not reached within {timeout:.1f} s")
        await asyncio.sleep(every)


async def until_gone(redis: Any, key: str, timeout: float = TIMEOUT) -> None:
    """Until Redis no longer holds ``key``: an expiry (its TTL, on Redis's clock) has passed."""

    async def gone() -> bool:
        return not await redis.exists(key)

    await until(gone, timeout, every=EVERY, what=f"expiry of {key}")
