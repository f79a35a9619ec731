"""Drill: the platform answers errors to 30 % of sends for ``--seconds``; nothing may be lost.

MAX fake: ``POST /messages`` answers 429 to 30 % of calls for the first half of the storm and
500 to 30 % for the second half. VK fake (``--channel vk``): ``messages.send`` answers error 6
("too many requests") to ~15 % and HTTP 500 to ~15 %. svyaz runs with its shipped rate
limiters. Prints sent / delivered / lost / doubled, injected failures, and the most send
requests the fake saw in any one second (MAX allows 30, VK 20).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.common import emit, temp_dir  # noqa: E402
from bench.drills.harness import (  # noqa: E402
    Load,
    TimedMaxFake,
    TimedVkFake,
    launch,
    start_fake,
    stop_fake,
)


async def storm(fake: TimedMaxFake | TimedVkFake, seconds: float) -> None:
    if isinstance(fake, TimedVkFake):
        fake.fail("messages.send", code=6, times=None, ratio=0.15)
        fake.fail("messages.send", http_status=500, times=None, ratio=0.15 / 0.85)
        await asyncio.sleep(seconds)
        fake.clear_failures()
        return
    fake.inject("/messages", 429, code="too.many.requests", times=None, ratio=0.3,
                seconds=seconds / 2)
    await asyncio.sleep(seconds / 2)
    fake.inject("/messages", 500, times=None, ratio=0.3, seconds=seconds / 2)
    await asyncio.sleep(seconds / 2)
    fake.clear_injections()


def failures(fake: TimedMaxFake | TimedVkFake) -> tuple[int, int]:
    """(failed sends the fake answered, most send requests in any second)."""
    if isinstance(fake, TimedVkFake):
        calls = fake.calls_of("messages.send")
        return len(calls) - len(fake.sent), fake.max_rate(1.0)
    sends = [r for r in fake.requests if r.path == "/messages"]
    return sum(r.status >= 400 for r in sends), fake.max_in_window(1.0, "/messages")


async def measure(args: argparse.Namespace) -> tuple[Load, int, int]:
    """(the load with its tally, failed send answers, most send requests in any second)"""
    fake, handle = await start_fake(args.channel)
    load = Load(args.channel, fake.inbox, base_user=70_000_000)
    with temp_dir("svyaz-storm-") as work:
        bot = await launch(args.channel, fake, work)
        load.url = bot.url
        try:
            storm_task = asyncio.create_task(storm(fake, args.seconds))
            await load.run(args.seconds, args.concurrency)
            await load.finish(args.grace)
            await storm_task
        finally:
            bot.stop()
    await stop_fake(handle)
    failed, peak = failures(fake)
    return load, failed, peak


async def drill(args: argparse.Namespace) -> None:
    load, failed, peak = await measure(args)
    emit("channel", args.channel)
    emit("storm_seconds", args.seconds)
    load.tally.report(load.inbox)
    emit("failed_send_answers", failed)
    emit("max_send_requests_in_any_second", peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channel", choices=["max", "vk"], default="max")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--grace", type=float, default=70.0,
                        help="extra wait for replies re-sent from the outbox")
    args = parser.parse_args()
    asyncio.run(drill(args))


if __name__ == "__main__":
    main()
