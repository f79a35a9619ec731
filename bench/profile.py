"""Where svyaz's time goes at saturation: py-spy attached to ``svyaz run`` under load.py's load.

Starts ``svyaz run`` (MAX webhook, embedded Redis, pinned to one core like load.py), warms it
up, then plays ``--concurrency`` customers through the booking dialogue for ``--seconds``
while ``py-spy record`` samples it (``--rate`` Hz, GIL-holding threads only, collapsed
stacks). Prints the messages/s reached under the sampler (not comparable with load.py: the
sampler pauses the bot), the frames with the largest self and inclusive shares, and leaves the
collapsed stacks at ``--out`` for a flame graph. Needs py-spy (``pip install py-spy``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bot_core, emit, start_max_fake, temp_dir  # noqa: E402
from bench.load import max_poster, run_load, start_svyaz  # noqa: E402


def summarise(stacks: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        path, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = path.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    print(f"samples: {total}")
    for title, counter in (("self", own), ("inclusive", incl)):
        print(f"-- top {top} by {title} share")
        for frame, n in counter.most_common(top):
            print(f"{n / total * 100:6.1f} %  {frame}")


async def profile(args: argparse.Namespace, core: int | None, work: Path) -> None:
    fake, runner = await start_max_fake()
    fake.keep_requests = False
    bot = await start_svyaz(work / "svyaz", core, max_url=fake.url)
    try:
        post = max_poster(bot.url)
        await run_load(bot, post, fake.inbox, concurrency=4, seconds=2.0, rate=None)
        spy = subprocess.Popen(
            [args.py_spy, "record", "--pid", str(bot.proc.pid), "--rate", str(args.rate),
             "--duration", str(int(args.seconds) + 2), "--format", "raw", "--gil",
             "--output", str(args.out), *(["--nonblocking"] if args.nonblocking else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        await asyncio.sleep(1.0)  # attached
        result = await run_load(bot, post, fake.inbox, concurrency=args.concurrency,
                                seconds=args.seconds, rate=None)
        _, err = await asyncio.to_thread(spy.communicate)
        if spy.returncode != 0:
            raise SystemExit(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
        emit("messages_per_second_under_the_sampler", result.rate)
        emit("errors", result.errors)
    finally:
        bot.stop()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=int, default=250)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("svyaz-profile.txt"))
    parser.add_argument("--nonblocking", action="store_true",
                        help="sample without pausing the bot (py-spy --nonblocking): a paused "
                             "sample lands on a system call's line more often than the call's "
                             "time says (a getpid inside asyncio.get_running_loop showed as 2 %%)")
    args = parser.parse_args()
    args.py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(args.py_spy).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    core = bot_core()
    with temp_dir("svyaz-profile-") as work:
        asyncio.run(profile(args, core, work))
    summarise(args.out, args.top)


if __name__ == "__main__":
    main()
