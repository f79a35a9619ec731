"""Python calls per message: cProfile around ``bench/instructions.py``'s workload.

Callgrind's instruction count moves with the machine's load when it is busy (the loop's
periodic work is counted per second of wall time). The number of Python function calls a
message makes does not: this starts ``svyaz run`` (``bench.launch``, rate limits lifted)
under ``cProfile``, switched on by ``SIGUSR1`` after the warm-up and off by ``SIGUSR2``
after the measured dialogues, and prints the calls per message and the functions most called::

    .venv/bin/python bench/pycalls.py                       # this tree
    .venv/bin/python bench/pycalls.py --tree ../before      # another tree (its .venv)

``--out`` keeps the profile (``pstats``). Its times are cProfile's, inflated per call: read
the counts, and where the time goes from py-spy (``bench/profile.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, emit, free_port, start_max_fake, svyaz_env, temp_dir, wait_healthy  # noqa: E402, E501
from bench.instructions import workload  # noqa: E402

# The bot's process: ``bench.launch`` of the measured tree (its working directory, first on
# ``sys.path`` with ``-c``) with the profiler switched by the signals.
CHILD = """
import cProfile, os, signal, sys
from bench.launch import main
profile = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
def stop(*_):
    profile.disable()
    profile.dump_stats(os.environ["PYCALLS_OUT"])
signal.signal(signal.SIGUSR2, stop)
sys.exit(main(sys.argv[1:]))
"""


async def count(tree: Path, work: Path, args: argparse.Namespace) -> int:
    fake, runner = await start_max_fake()
    fake.keep_requests = False
    port = free_port()
    env = svyaz_env(data_dir=work, port=port, max_url=fake.url,
                    extra={"SVYAZ_FLOWS": str(tree / "flows_examples"),
                           "PYCALLS_OUT": str(args.out.resolve())})
    argv = [str(tree / ".venv" / "bin" / "python"), "-c", CHILD, "--no-rate-limit", "run"]
    proc = subprocess.Popen(argv, env=env, cwd=str(tree), stdout=(work / "bot.log").open("ab"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, proc, timeout=120)
        await workload(url, fake.inbox, args.warmup, args.concurrency)
        proc.send_signal(signal.SIGUSR1)
        await asyncio.sleep(0.3)
        result = await workload(url, fake.inbox, args.dialogues, args.concurrency)
        proc.send_signal(signal.SIGUSR2)
        for _ in range(100):  # the profile is written by the signal's handler
            await asyncio.sleep(0.1)
            if args.out.exists() and args.out.stat().st_size:
                break
    finally:
        proc.terminate()
        proc.wait(60)
        await runner.cleanup()
    return result.messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", default=str(ROOT))
    parser.add_argument("--dialogues", type=int, default=80)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("svyaz-pycalls.pstats"))
    args = parser.parse_args()
    args.out.unlink(missing_ok=True)
    with temp_dir("svyaz-pycalls-") as work:
        messages = asyncio.run(count(Path(args.tree).resolve(), work, args))
    stats = pstats.Stats(str(args.out))
    emit("messages", messages)
    emit("python_calls_per_message", stats.total_calls / max(1, messages))
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][1])
    for (file, line, name), (_, calls, *_) in rows[: args.top]:
        print(f"{calls / max(1, messages):8.1f}  {file}:{line}({name})")


if __name__ == "__main__":
    main()
