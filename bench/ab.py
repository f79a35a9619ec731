"""A/B of two svyaz trees: MAX saturation rounds alternating between them in one run.

``bench/load.py`` compares svyaz with its peer; this compares svyaz with itself, say before
and after a redesign::

    git worktree add --detach ../before <rev>      # and a venv there (./dev test makes one)
    .venv/bin/python bench/ab.py --before ../before --rounds 6

Both bots run at once from their own trees (each with the Python of its ``.venv``), on
the same core, against one MAX fake; the rounds alternate A, B, B, A, A, B, … so that a
machine that slows down over the run weighs on both alike. Prints per-round figures, then
``name: value`` medians and the after/before ratios of messages/s and CPU per message.

``--rate R`` runs the rounds as ``bench/load.py``'s half-load phase instead: new dialogues
started at R messages/s (an open loop) rather than saturation; then the latency
percentiles (pooled over each side's rounds) and their after/before ratios are what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    BotProcess,
    bot_core,
    emit,
    free_port,
    median,
    percentile,
    pin,
    start_bot,
    start_max_fake,
    svyaz_env,
    temp_dir,
)
from bench.load import Result, max_poster, redis_calls, run_load  # noqa: E402


async def start_tree(tree: Path, work: Path, core: int | None, max_url: str) -> BotProcess:
    """``svyaz run`` from ``tree`` (its own venv and code), rate limiters lifted."""
    port = free_port()
    env = svyaz_env(data_dir=work, port=port, max_url=max_url,
                    extra={"SVYAZ_FLOWS": str(tree / "flows_examples")})
    python = tree / ".venv" / "bin" / "python"
    argv = [str(python), "-m", "bench.launch", "--no-rate-limit", "run"]
    bot = await start_bot(argv, env, data_dir=work, port=port, core=core, cwd=tree)
    pin(bot.proc.pid, core)
    return bot


def order(rounds: int) -> list[str]:
    """A B B A A B B A …: each side goes first as often as the other."""
    return [side for n in range(rounds) for side in (("after", "before") if n % 2 == 0
                                                     else ("before", "after"))]


async def run(args: argparse.Namespace, core: int | None, work: Path) -> None:
    fake, runner = await start_max_fake()
    fake.keep_requests = False
    trees = {"after": Path(args.after).resolve(), "before": Path(args.before).resolve()}
    bots = {side: await start_tree(tree, work / side, core, fake.url)
            for side, tree in trees.items()}
    results: dict[str, list[Result]] = {side: [] for side in bots}
    urls = {side: f"unix://{work / side / 'redis.sock'}" for side in bots}
    try:
        for bot in bots.values():  # warm-up: imports, pools, first turns
            await run_load(bot, max_poster(bot.url), fake.inbox, concurrency=4, seconds=1.0,
                           rate=None)
        before = {side: await redis_calls(url) for side, url in urls.items()}
        for side in order(args.rounds):
            bot = bots[side]
            r = await run_load(bot, max_poster(bot.url), fake.inbox,
                               concurrency=args.concurrency, seconds=args.seconds,
                               rate=args.rate)
            results[side].append(r)
            print(f"# {side}: {r.rate:.1f} msg/s, {r.cpu / max(1, r.messages) * 1000:.3f} + "
                  f"{r.redis_cpu / max(1, r.messages) * 1000:.3f} ms CPU/message (bot + "
                  f"Redis), p50 {percentile(r.latencies, 50) * 1000:.2f} p99 "
                  f"{percentile(r.latencies, 99) * 1000:.2f} ms, {r.errors} errors", flush=True)
        calls = {side: await redis_calls(url) - before[side] for side, url in urls.items()}
    finally:
        for bot in bots.values():
            bot.stop()
        await runner.cleanup()
    figures = {}
    for side, runs in results.items():
        rate = median([r.rate for r in runs])
        cpu = median([r.cpu / r.messages * 1000 for r in runs if r.messages])
        emit(f"{side}_messages_per_second", rate)
        emit(f"{side}_cpu_ms_per_message", cpu)
        emit(f"{side}_redis_cpu_ms_per_message",
             median([r.redis_cpu / r.messages * 1000 for r in runs if r.messages]))
        sent = max(1, sum(r.messages for r in runs))
        emit(f"{side}_redis_commands_per_message", calls[side].total() / sent)
        for command, n in calls[side].most_common():
            emit(f"{side}_redis_per_message_{command.replace('|', '_')}", n / sent)
        emit(f"{side}_errors", sum(r.errors for r in runs))
        latencies = [x for r in runs for x in r.latencies]  # pooled over the rounds
        tail = {q: percentile(latencies, q) * 1000 for q in (50, 95, 99)}
        for q, ms in tail.items():
            emit(f"{side}_p{q}_ms", ms)
        figures[side] = (rate, cpu, tail)
    emit("ratio_after_before_messages_per_second", figures["after"][0] / figures["before"][0])
    emit("ratio_after_before_cpu_per_message", figures["after"][1] / figures["before"][1])
    for q in (50, 95, 99):
        emit(f"ratio_after_before_p{q}", figures["after"][2][q] / figures["before"][2][q])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", required=True, help="the other tree (with a .venv)")
    parser.add_argument("--after", default=str(ROOT), help="this tree by default")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per side")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=None,
                        help="messages/s of an open loop (load.py's half-load phase) instead "
                             "of saturation")
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args()
    core = bot_core(pin_bot=not args.no_pin)
    with temp_dir("svyaz-ab-") as work:
        asyncio.run(run(args, core, work))


if __name__ == "__main__":
    main()
