"""Instructions per message, counted by callgrind: a figure that does not move with the machine.

Throughput at saturation moves by ±15 % between runs on a shared machine, so a 5 % cost of a
change hides in it. ``valgrind --tool=callgrind`` counts the instructions the bot process runs,
the same count for the same code and input whatever else the machine does. This starts
``svyaz run`` (MAX webhook, embedded Redis; rate limiters lifted) under callgrind with
instrumentation off, warms it up, then counts a fixed workload — ``--dialogues`` booking
dialogues, ``--concurrency`` at a time — between ``callgrind_control -i on`` and ``-i off``::

    .venv/bin/python bench/instructions.py                       # this tree
    .venv/bin/python bench/instructions.py --tree ../before      # another tree (its .venv)

Prints ``instructions_per_message`` (millions, the bot process only: its Redis is a child not
traced) and ``python_calls_per_message`` is not counted: use cProfile for that. Needs Debian's
valgrind. Slow: a few minutes per tree.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    emit,
    free_port,
    start_max_fake,
    svyaz_env,
    temp_dir,
    wait_healthy,
)
from bench.load import Result, dialogue, max_poster  # noqa: E402


async def workload(url: str, inbox: object, dialogues: int, concurrency: int) -> Result:
    result = Result()
    post = max_poster(url)
    left = iter(range(dialogues))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def worker() -> None:
            for _ in left:
                await dialogue(session, post, inbox, result)  # type: ignore[arg-type]
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


def control(pid: int, *flags: str) -> str:
    return subprocess.run(["callgrind_control", *flags, str(pid)], capture_output=True,
                          text=True, timeout=300, check=True).stdout


async def count(tree: Path, work: Path, args: argparse.Namespace) -> tuple[int, int]:
    fake, runner = await start_max_fake()
    fake.keep_requests = False
    port = free_port()
    env = svyaz_env(data_dir=work, port=port, max_url=fake.url,
                    extra={"SVYAZ_FLOWS": str(tree / "flows_examples")})
    out_file = work / "callgrind.out"
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out_file}", str(tree / ".venv" / "bin" / "python"),
            "-m", "bench.launch", *(["--no-funnel"] if args.no_funnel else []),
            "--no-rate-limit", "run"]
    log = (work / "bot.log").open("ab")
    proc = subprocess.Popen(argv, env=env, cwd=str(tree), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, proc, timeout=600)
        await workload(url, fake.inbox, args.warmup, args.concurrency)
        control(proc.pid, "-z")  # zero whatever start-up counted
        control(proc.pid, "-i", "on")
        result = await workload(url, fake.inbox, args.dialogues, args.concurrency)
        control(proc.pid, "-i", "off")
        control(proc.pid, "-d")
    finally:
        proc.terminate()
        proc.wait(120)
        await runner.cleanup()
    total = 0
    for part in work.glob("callgrind.out*"):
        for line in part.read_text(errors="replace").splitlines():
            if m := re.match(r"totals:\s+(\d+)", line):
                total += int(m.group(1))
                if args.keep and m.group(1) != "0":
                    shutil.copy(part, args.keep)
    return total, result.messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", default=str(ROOT))
    parser.add_argument("--dialogues", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-funnel", action="store_true",
                        help="the funnel's counting off (bench.launch), to measure its cost")
    parser.add_argument("--keep", help="copy the callgrind profile here (callgrind_annotate)")
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    with temp_dir("svyaz-cg-") as work:
        total, messages = asyncio.run(count(tree, work, args))
    emit("messages", messages)
    emit("instructions_per_message_millions", total / max(1, messages) / 1e6)


if __name__ == "__main__":
    main()
