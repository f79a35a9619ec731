"""Drill: Redis restarted mid-load (``--redis embedded`` or ``external``).

embedded: svyaz's own redis-server child is stopped (SIGTERM, or SIGKILL with ``--kill``) and,
``--down`` s later, started again by the drill through ``storage.embedded.EmbeddedRedis`` on
the same data folder (same socket, same append-only file). external: the drill runs a
redis-server on a loopback TCP port as ``SVYAZ_REDIS_URL`` and restarts it the same way.
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
from storage.embedded import EmbeddedRedis, redis_binary  # noqa: E402
from storage.store import Store  # noqa: E402


def external_argv(port: int, work: Path) -> list[str]:
    return [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--dir", str(work), "--logfile", str(work / "ext.log")]


def embedded_child(bot: BotProcess) -> psutil.Process:
    for child in psutil.Process(bot.proc.pid).children(recursive=True):
        if "redis-server" in child.name():
            return child
    raise RuntimeError("svyaz has no embedded redis-server child")


class Embedded:
    """Starts the embedded Redis again the way svyaz does (the drill owns this one)."""

    def __init__(self, data_dir: Path) -> None:
        self.server = EmbeddedRedis(data_dir)

    def start(self) -> Embedded:
        self.server.start()
        return self

    def poll(self) -> int | None:
        return None if self.server.running else 0

    def terminate(self) -> None:
        self.server.stop()

    def wait(self, timeout: float) -> None:
        return None


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


Restartable = subprocess.Popen[bytes] | Embedded


async def restart(start: Callable[[], Restartable], victim: psutil.Process | Restartable,
                  args: argparse.Namespace) -> Restartable:
    await asyncio.sleep(args.at)
    if args.kill:
        victim.kill()
    else:
        victim.terminate()
    with contextlib.suppress(Exception):
        victim.wait(10)
    await asyncio.sleep(args.down)
    return await asyncio.to_thread(start)


async def stall(url: str, args: argparse.Namespace) -> None:
    await asyncio.sleep(args.at)
    client = Redis.from_url(url, socket_timeout=args.down + 10)
    try:
        await client.execute_command("DEBUG", "SLEEP", args.down)
    finally:
        await client.aclose()


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
        start: Callable[[], Restartable]
        victim: psutil.Process | Restartable
        if args.redis == "embedded":
            victim = embedded_child(bot)
            start = Embedded(work / "bot").start
            url = f"unix://{work / 'bot' / 'redis.sock'}"
        else:
            assert external is not None
            victim = external
            start = functools.partial(subprocess.Popen, ext_argv, stdout=subprocess.DEVNULL)
        try:
            if args.stall:
                chaos: asyncio.Task[Restartable | None] = asyncio.create_task(stall(url, args))
            else:
                chaos = asyncio.create_task(restart(start, victim, args))
            await load.run(args.seconds, args.concurrency)
            await load.finish(args.grace)
            replacement = await chaos
            customers, bad = await corrupted(url)
        finally:
            bot.stop()
            for proc in (replacement, external):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    proc.wait(10)
    await stop_fake(handle)
    return Outcome(load, customers, bad, restarted=replacement is not None)


async def drill(args: argparse.Namespace) -> None:
    outcome = await measure(args)
    emit("channel", args.channel)
    emit("redis", args.redis)
    emit("redis_stalled_seconds" if args.stall else "redis_down_seconds", args.down)
    outcome.load.tally.report(outcome.load.inbox)
    emit("customers", outcome.customers)
    emit("corrupted_states", outcome.corrupted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channel", choices=["max", "vk"], default="max")
    parser.add_argument("--redis", choices=["embedded", "external"], default="embedded")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--at", type=float, default=8.0, help="stop Redis this far into it")
    parser.add_argument("--down", type=float, default=5.0)
    parser.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM")
    parser.add_argument("--stall", action="store_true",
                        help="freeze Redis for --down s instead of stopping it")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--grace", type=float, default=70.0)
    args = parser.parse_args()
    asyncio.run(drill(args))


if __name__ == "__main__":
    main()
