"""Drill: ``kill -9`` of ``svyaz run`` every few seconds during load; the drill restarts it.

Customers play the booking dialogue over MAX webhooks (``--channel vk``: VK callbacks); an
update the bot did not answer 200 is re-delivered with the same id, as the platforms do. Every
``--every`` s (jittered) the bot process gets SIGKILL; its embedded Redis child is then found
orphaned (counted) and killed too, as when a container dies, and the bot is started again on
the same port and data folder. Prints sent / delivered / lost / doubled, kills, orphans.
``--redis external``: svyaz uses a redis-server the drill runs on a loopback port (which
survives the kills, as a shared Redis would); the restarted process takes over what its
predecessor held by the name it inherits with the data folder's slot (storage.instance).
Targets: lost 0; doubled 0 (VK by ``random_id``; MAX by the outbox re-send reading the
dialog back first: ``resends_found_delivered`` counts the replies it found already there).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.common import BotProcess, emit, free_port, log_count, temp_dir  # noqa: E402
from bench.drills.harness import Load, launch, start_fake, stop_fake  # noqa: E402
from bench.drills.redis_restart import external_argv, wait_ping  # noqa: E402


def kill_tree(pid: int) -> int:
    """SIGKILL ``pid``; returns how many of its children outlived it (then kills them)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        children = []
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    orphans = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    for child in orphans:
        with contextlib.suppress(psutil.Error):
            child.kill()
    return len(orphans)


async def chaos(args: argparse.Namespace, fake: object, work: Path, port: int,
                bots: list[BotProcess], extra: dict[str, str]) -> tuple[int, int]:
    """Kill and restart the bot until ``--seconds`` pass; the live bot stays in ``bots[-1]``."""
    kills = orphans = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(random.uniform(0.5, 1.5) * args.every)
        orphans += kill_tree(bots[-1].proc.pid)
        bots[-1].proc.wait()
        kills += 1
        bots.append(await launch(args.channel, fake, work, port=port,  # type: ignore[arg-type]
                                 extra=extra))
    return kills, orphans


async def drill(args: argparse.Namespace) -> None:
    fake, handle = await start_fake(args.channel)
    load = Load(args.channel, fake.inbox, base_user=60_000_000)
    port = free_port()
    with temp_dir("svyaz-kill9-") as work:
        extra: dict[str, str] = {}
        external: subprocess.Popen[bytes] | None = None
        if args.redis == "external":
            redis_port = free_port()
            external = subprocess.Popen(external_argv(redis_port, work), stdout=subprocess.DEVNULL)
            extra["SVYAZ_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            await wait_ping(extra["SVYAZ_REDIS_URL"])
        bots = [await launch(args.channel, fake, work / "bot", port=port,  # type: ignore[arg-type]
                             extra=extra)]
        load.url = bots[0].url
        chaos_task = asyncio.create_task(chaos(args, fake, work / "bot", port, bots, extra))
        try:
            await load.run(args.seconds, args.concurrency)
            await load.finish(args.grace)  # then waits for the last replies
            kills, orphans = await chaos_task
            skipped = log_count(bots[-1].log_path, "had arrived before; not sent again")
            replayed = log_count(bots[-1].log_path, "its process stopped before the release")
        finally:
            chaos_task.cancel()
            bots[-1].stop()
            if external is not None:
                external.terminate()
                external.wait()
    await stop_fake(handle)
    emit("channel", args.channel)
    emit("redis", args.redis)
    emit("kills", kills)
    emit("orphaned_redis_servers", orphans)
    emit("resends_found_delivered", skipped)  # MAX: outbox re-sends whose reply had arrived
    # Turns saved, then cut by a kill before their release: their effects (reminders, consent,
    # profile) ran again, or for the first time when the kill came before them.
    emit("turns_whose_effects_ran_again", replayed)
    load.tally.report(fake.inbox)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channel", choices=["max", "vk"], default="max")
    parser.add_argument("--redis", choices=["embedded", "external"], default="embedded")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--grace", type=float, default=150.0,
                        help="extra wait for replies re-sent from the outbox")
    args = parser.parse_args()
    asyncio.run(drill(args))


if __name__ == "__main__":
    main()
