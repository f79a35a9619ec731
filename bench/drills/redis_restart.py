"""Drill: Redis restarted mid-load (``--redis embedded`` or ``external``).

embedded: svyaz's own redis-server child is stopped (SIGTERM, or SIGKILL with ``--kill``), and
svyaz starts it again by itself (same socket, same append-only file); ``redis_down_seconds``
is how long that took. external: the drill runs a redis-server on a loopback TCP port as
``SVYAZ_REDIS_URL``, stops it the same way and starts it again ``--down`` s later.
With ``--stall`` Redis is not stopped but frozen for ``--down`` s (``DEBUG SLEEP``, as a slow
command or a fork of a big dataset would): calls sent meanwhile pass their 5 s deadline, yet
run when it ends. Updates arriving meanwhile should get 503 (counted) and be re-delivered by
the "platform"; afterwards everything is processed, and ``reply_wait_max_s`` shows how long the
unluckiest customer waited. At the end every customer's stored dialogue state
must load (``corrupted_states``).
Prints sent / delivered / lost / doubled and the HTTP answers seen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.common import BotProcess, emit, free_port, temp_dir  # noqa: E402
from bench.drills.harness import Load, launch, start_fake, stop_fake  # noqa: E402
from storage.embedded import redis_binary  # noqa: E402
from storage.store import Store  # noqa: E402


def external_argv(port: int, work: Path) -> list[str]:
    return [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--dir", str(work), "--logfile", str(work / "ext.log")]


def embedded_child(bot: BotProcess) -> psutil.Process:
    for child in psutil.Process(bot.proc.pid).children(recursive=True):
        if "redis-server" in child.name():
            return child
    raise RuntimeError("svyaz has no embedded redis-server child")


async def wait_ping(url: str, timeout: float = 10.0) -> None:
    store = Store.from_url(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if await store.redis.ping():
                    return
            await asyncio.sleep(0.05)
    finally:
        await store.close()


Restartable = subprocess.Popen[bytes]


async def stop(victim: psutil.Process | Restartable, args: argparse.Namespace) -> float:
    await asyncio.sleep(args.at)
    stopped = time.monotonic()
    if args.kill:
        victim.kill()
    else:
        victim.terminate()
    with contextlib.suppress(Exception):
        victim.wait(10)
    return stopped


async def restart(start: Callable[[], Restartable], victim: Restartable,
                  args: argparse.Namespace) -> tuple[Restartable, float]:
    await stop(victim, args)
    await asyncio.sleep(args.down)
    return await asyncio.to_thread(start), args.down


async def revived(bot: BotProcess, url: str, args: argparse.Namespace
                  ) -> tuple[None, float]:
    """Stop svyaz's embedded Redis; how long until svyaz had it answering again."""
    victim = embedded_child(bot)
    stopped = await stop(victim, args)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(RuntimeError, psutil.Error):
            if embedded_child(bot).pid != victim.pid:
                await wait_ping(url)
                return None, time.monotonic() - stopped
        await asyncio.sleep(0.05)
    raise RuntimeError("svyaz did not start its embedded Redis again within 60 s")


async def stall(url: str, args: argparse.Namespace) -> tuple[None, float]:
    await asyncio.sleep(args.at)
    client = Redis.from_url(url, socket_timeout=args.down + 10)
    try:
        await client.execute_command("DEBUG", "SLEEP", args.down)
    finally:
        await client.aclose()
    return None, args.down


async def corrupted(url: str) -> tuple[int, int]:
    store = Store.from_url(url)
    bad = 0
    try:
        customers = [c.decode() for c in await store.redis.smembers(store.keys.customers)]
        for customer in customers:
            try:
                await store.states.load(customer)
            except Exception:  # any failure to read a state back counts as corruption
                bad += 1
    finally:
        await store.close()
    return len(customers), bad


@dataclass
class Outcome:
    load: Load
    customers: int
    corrupted: int
    restarted: bool
    down: float  # seconds Redis was gone (frozen, with --stall)


async def measure(args: argparse.Namespace) -> Outcome:
    fake, handle = await start_fake(args.channel)
    load = Load(args.channel, fake.inbox, base_user=80_000_000)
    replacement: Restartable | None = None
    external: subprocess.Popen[bytes] | None = None
    with temp_dir("svyaz-redis-") as work:
        extra: dict[str, str] = {}
        if args.redis == "external":
            port = free_port()
            ext_argv = external_argv(port, work)
            external = subprocess.Popen(ext_argv, stdout=subprocess.DEVNULL)
            url = extra["SVYAZ_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            await wait_ping(url)
        bot = await launch(args.channel, fake, work / "bot", extra=extra)
        load.url = bot.url
        if args.redis == "embedded":
            url = f"unix://{work / 'bot' / 'redis.sock'}"
        chaos: asyncio.Task[tuple[Restartable | None, float]]
        try:
            if args.stall:
                chaos = asyncio.create_task(stall(url, args))
            elif args.redis == "embedded":
                chaos = asyncio.create_task(revived(bot, url, args))
            else:
                assert external is not None
                start = functools.partial(subprocess.Popen, ext_argv, stdout=subprocess.DEVNULL)
                chaos = asyncio.create_task(restart(start, external, args))
            await load.run(args.seconds, args.concurrency)
            await load.finish(args.grace)
            replacement, down = await chaos
            customers, bad = await corrupted(url)
        finally:
            bot.stop()
            for proc in (replacement, external):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    proc.wait(10)
    await stop_fake(handle)
    return Outcome(load, customers, bad, restarted=args.stall or replacement is not None
                   or args.redis == "embedded", down=down)


async def drill(args: argparse.Namespace) -> None:
    outcome = await measure(args)
    emit("channel", args.channel)
    emit("redis", args.redis)
    emit("redis_stalled_seconds" if args.stall else "redis_down_seconds", round(outcome.down, 2))
    outcome.load.tally.report(outcome.load.inbox)
    emit("customers", outcome.customers)
    emit("corrupted_states", outcome.corrupted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channel", choices=["max", "vk"], default="max")
    parser.add_argument("--redis", choices=["embedded", "external"], default="embedded")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--at", type=float, default=8.0, help="stop Redis this far into it")
    parser.add_argument("--down", type=float, default=5.0,
                        help="external: seconds stopped; --stall: seconds frozen")
    parser.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM")
    parser.add_argument("--stall", action="store_true",
                        help="freeze Redis for --down s instead of stopping it")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--grace", type=float, default=70.0)
    args = parser.parse_args()
    asyncio.run(drill(args))


if __name__ == "__main__":
    main()
