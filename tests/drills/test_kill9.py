"""kill -9 of ``svyaz run`` during load, bounded: customers keep talking over VK callbacks or
MAX webhooks while the process is SIGKILLed and restarted on the same port and data folder.

Every accepted message must get its reply exactly once as the customer sees it (VK drops a
repeated ``random_id``; a MAX re-send reads the dialog back first). The restarted process
takes over its embedded Redis at once, so a reply whose turn was cut comes within seconds,
not with the outbox's 60 s re-send; on a Redis server that outlives the kills (a shared one),
it takes over what carries the name it inherits with the data folder's slot. The full drill
with numbers is bench/drills/kill9.py.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.common import BotProcess, free_port
from bench.drills.harness import Load, launch, start_fake, stop_fake
from bench.drills.kill9 import kill_tree

pytestmark = pytest.mark.slow


async def chaos(channel: str, fake: object, data_dir: object, port: int,
                bots: list[BotProcess], kills: int, every: float, extra: dict[str, str]) -> None:
    for _ in range(kills):
        await asyncio.sleep(every)
        await asyncio.to_thread(kill_tree, bots[-1].proc.pid)
        bots[-1].proc.wait()
        bots.append(await launch(channel, fake, data_dir, port=port,  # type: ignore[arg-type]
                                 extra=extra))


@pytest.mark.timeout(150)
@pytest.mark.parametrize(("channel", "redis"), [("vk", "embedded"), ("max", "embedded"),
                                              ("max", "shared")])
async def test_kill9_loses_and_doubles_nothing(channel: str, redis: str, tmp_path: object,
                                               request: pytest.FixtureRequest) -> None:
    extra: dict[str, str] = {}
    if redis == "shared":  # the tests' own server: it outlives the kills
        server = request.getfixturevalue("embedded_redis")
        extra = {"SVYAZ_REDIS_URL": server.url,
                 "SVYAZ_BOT": request.getfixturevalue("bot_prefix")}
    fake, handle = await start_fake(channel)  # type: ignore[arg-type]
    load = Load(channel, fake.inbox, base_user=61_000_000)  # type: ignore[arg-type]
    port = free_port()
    bots = [await launch(channel, fake, tmp_path, port=port, extra=extra)]  # type: ignore[arg-type]
    load.url = bots[0].url
    try:
        killer = asyncio.create_task(
            chaos(channel, fake, tmp_path, port, bots, kills=2, every=2.5, extra=extra))
        await load.run(seconds=7.0, concurrency=4)
        await killer
        await load.finish(grace=70.0)
    finally:
        bots[-1].stop()
        await stop_fake(handle)
    tally = load.tally
    waits = tally.waits(fake.inbox)
    print(f"{channel} kills: 2 sent: {tally.sent} delivered: {tally.delivered} "
          f"late: {tally.late} lost: {tally.lost} doubled: {tally.doubled(fake.inbox)} "
          f"longest wait: {max(waits, default=0):.1f} s")
    assert tally.sent > 10
    assert tally.lost == 0
    assert tally.doubled(fake.inbox) == 0
    assert tally.late == 0  # taken over at start, not by the outbox's re-send after 60 s
