"""Deadlines of storage calls: ``asyncio.timeout``'s behaviour, one timer for all the calls.

Every guarded storage call (``storage.errors.guarded``) has a deadline: a Redis that hangs
makes the call fail instead of holding its turn forever. ``asyncio.timeout`` schedules and
cancels a timer per call, and at saturation its enter and exit were about 3 % of the bot's
samples (bench/profile.py, issue 17), for deadlines that practically never pass. Here a call
only notes its task and its deadline; one check per ``TICK`` while calls are running cancels
the task of each call whose deadline has passed, and ``within`` turns that cancellation into
``TimeoutError`` exactly as ``asyncio.timeout`` does (``Task.uncancel``: a cancellation that
came from elsewhere too stays a cancellation). A deadline passes up to ``TICK`` late.

This module must not know what the calls do.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

TICK = 0.05  # seconds between checks while calls are running


class Deadlines:
    """The running calls of one event loop, each with its task and deadline."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._calls: dict[int, tuple[float, asyncio.Task[object]]] = {}
        self._expired: set[int] = set()
        self._ids = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def enter(self, seconds: float, task: asyncio.Task[object] | None = None) -> int:
        """Note a call of ``task`` (the current task by default) that must end within
        ``seconds``; its id."""
        task = task or asyncio.current_task(self.loop)
        if task is None:
            raise RuntimeError("a deadline needs a task")
        call = next(self._ids)
        self._calls[call] = (self.loop.time() + seconds, task)
        if self._timer is None:
            self._timer = self.loop.call_later(TICK, self._check)
        return call

    def leave(self, call: int) -> bool:
        """The call ended: True when its deadline had passed (its task was cancelled for it).
        A second leave of the same call is False."""
        if self._calls.pop(call, None) is not None:
            return False
        if call in self._expired:
            self._expired.discard(call)
            return True
        return False

    def _check(self) -> None:
        self._timer = None
        now = self.loop.time()
        for call, (when, task) in list(self._calls.items()):
            if when <= now:
                del self._calls[call]
                self._expired.add(call)
                task.cancel()
        if self._calls:
            self._timer = self.loop.call_later(TICK, self._check)


_current: Deadlines | None = None


def deadlines() -> Deadlines:
    """The running loop's (a loop that went away takes its calls with it)."""
    global _current
    loop = asyncio.get_running_loop()
    found = _current
    if found is None or found.loop is not loop:
        found = _current = Deadlines(loop)
    return found


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """``await awaitable``, raising ``TimeoutError`` when it has not ended within ``seconds``
    (``async with asyncio.timeout(seconds)``, cheaper)."""
    calls = deadlines()
    task = asyncio.current_task(calls.loop)  # (looked up once: every storage call runs here)
    call = calls.enter(seconds, task)
    before = task.cancelling() if task is not None else 0  # (as ``asyncio.timeout`` counts)
    try:
        return await awaitable
    except asyncio.CancelledError:
        if calls.leave(call) and task is not None and task.uncancel() <= before:
            raise TimeoutError from None
        raise
    finally:
        if calls.leave(call) and task is not None:
            # The deadline cancelled the task but the awaitable swallowed it and ended
            # anyway: take that cancellation back, as ``asyncio.timeout`` does on exit.
            task.uncancel()
