"""bots.background: the loops that stop on a signal."""

from __future__ import annotations

import asyncio

from bots.background import every
from bots.broadcast_send import more_to_send


async def test_a_busy_step_runs_again_at_once_and_an_idle_one_waits() -> None:
    """A step that stopped for its budget with work left (the broadcast sender after a batch)
    goes on without the loop's pause, which idled MAX's limit a second per batch."""
    stop = asyncio.Event()
    results = [3, 1000, 0, 7]  # copies handled per tick; 0: nothing was left to send
    calls: list[int] = []

    async def tick() -> int:
        calls.append(results[len(calls)])
        return calls[-1]

    loop = asyncio.create_task(every(stop, 3600.0, tick, "broadcasts", busy=more_to_send))
    for _ in range(100):  # the busy ticks run back to back; the idle one starts the hour
        await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(loop, timeout=5)
    assert calls == [3, 1000, 0]


async def test_a_step_that_failed_is_not_busy() -> None:
    stop = asyncio.Event()
    calls = 0

    async def broken() -> int:
        nonlocal calls
        calls += 1
        raise RuntimeError("redis is gone")

    loop = asyncio.create_task(every(stop, 3600.0, broken, "broadcasts", busy=more_to_send))
    for _ in range(100):
        await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(loop, timeout=5)
    assert calls == 1
