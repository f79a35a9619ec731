"""Background loops that stop on a signal instead of being cancelled.

redis-py (8.x) can swallow a ``CancelledError`` that arrives while a connection is being set
up, leaving a cancelled task running forever; so svyaz's periodic tasks are stopped by an
``asyncio.Event`` and only cancelled as a last resort. This module must not know what the
loops do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("svyaz.bots")


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds``; True (at once) when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def every(
    stop: asyncio.Event, seconds: float, step: Callable[[], Awaitable[object]], name: str,
    *, first_delay: float = 0.0,
) -> None:
    """Run ``step`` now (after ``first_delay``) and every ``seconds`` until ``stop`` is set."""
    if first_delay and await pause(stop, first_delay):
        return
    while not stop.is_set():
        try:
            await step()
        except Exception as exc:  # a background step must never kill its loop
            log.warning("%s failed: %s", name, type(exc).__name__)
        if await pause(stop, seconds):
            return


async def finish(tasks: list[asyncio.Task[None]], stop: asyncio.Event, timeout: float = 5.0
                 ) -> None:
    """Signal ``stop``, wait for the loops, cancel only what did not end in time."""
    stop.set()
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1.0)
    tasks.clear()
