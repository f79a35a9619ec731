"""Background work: loops that stop on a signal instead of being cancelled, and a backlog.

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
    *, first_delay: float = 0.0, busy: Callable[[object], bool] | None = None,
) -> None:
    """Run ``step`` now (after ``first_delay``) and every ``seconds`` until ``stop`` is set;
    at once again, without the pause, while ``busy`` says of a step's result that work may be
    left (a step that yields after a bounded stretch of work, so the stop is heard)."""
    if first_delay and await pause(stop, first_delay):
        return
    while not stop.is_set():
        try:
            done = await step()
        except Exception as exc:  # a background step must never kill its loop
            log.warning("%s failed: %s", name, type(exc).__name__)
            done = None
        if busy is not None and busy(done):
            await asyncio.sleep(0)  # (the others run; the loop's test hears a stop)
            continue
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


class Backlog:
    """Customers to process for bot-initiated events, a few at a time, each queued once."""

    def __init__(self, run: Callable[[str], Awaitable[None]], *, workers: int) -> None:
        self._run = run
        self._size = workers
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def add(self, customer: str) -> None:
        if not self._workers:  # started lazily: needs the running loop
            self._workers = [asyncio.create_task(self._work(), name=f"backlog-{i}")
                             for i in range(self._size)]
        if customer not in self._queued:
            self._queued.add(customer)
            self._queue.put_nowait(customer)

    async def _work(self) -> None:
        while True:
            customer = await self._queue.get()
            self._queued.discard(customer)
            try:
                await self._run(customer)
            except Exception as exc:  # the customer's inbox stays for the next sweep
                log.warning("backlog for %s failed: %s", customer, type(exc).__name__)
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        """Stop the workers (they wait on the queue or on a turn task, never inside Redis)."""
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
