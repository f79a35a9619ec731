"""kill -9 of ``svyaz run`` during load, bounded: customers keep talking over VK callbacks while
the process is SIGKILLed and restarted on the same port and data folder.

Every accepted message must get its reply exactly once as the customer sees it (VK drops a
repeated ``random_id``). A reply whose turn was cut between the outbox and the send comes
back with the outbox sweep (re-send after 60 s unacknowledged), so this test takes about a
minute. The full drill with
numbers is bench/drills/kill9.py.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.common import BotProcess, free_port
from bench.drills.harness import Load, launch, start_fake, stop_fake
from bench.drills.kill9 import kill_tree

pytestmark = pytest.mark.slow


async def chaos(fake: object, data_dir: object, port: int, bots: list[BotProcess],
                kills: int, every: float) -> None:
    for _ in range(kills):
        await asyncio.sleep(every)
        await asyncio.to_thread(kill_tree, bots[-1].proc.pid)
        bots[-1].proc.wait()
        bots.append(await launch("vk", fake, data_dir, port=port))  # type: ignore[arg-type]


@pytest.mark.timeout(150)
async def test_kill9_loses_and_doubles_nothing_on_vk(tmp_path: object) -> None:
    fake, handle = await start_fake("vk")
    load = Load("vk", fake.inbox, base_user=61_000_000)
    port = free_port()
    bots = [await launch("vk", fake, tmp_path, port=port)]  # type: ignore[arg-type]
    load.url = bots[0].url
    try:
        killer = asyncio.create_task(chaos(fake, tmp_path, port, bots, kills=1, every=2.5))
        await load.run(seconds=6.0, concurrency=3)
        await killer
        await load.finish(grace=70.0)
    finally:
        bots[-1].stop()
        await stop_fake(handle)
    tally = load.tally
    print(f"kills: 1 sent: {tally.sent} delivered: {tally.delivered} late: {tally.late} "
          f"lost: {tally.lost} doubled: {tally.doubled(fake.inbox)}")
    assert tally.sent > 10
    assert tally.lost == 0
    assert tally.doubled(fake.inbox) == 0
