"""What the funnel costs: svyaz with its funnel counting on against the same tree with it off
(``bench/launch.py --no-funnel``), in one run.

Both bots run from this tree, on the same core, against one MAX fake, each on its own
embedded Redis. By default each round loads both at once (half the customers each): they
share the core at the same moments, so whatever else the machine does weighs on both alike,
and the round's on/off ratio of messages/s is their relative cost (the median of the rounds'
ratios is printed). ``--alternate`` runs one at a time instead: on, off, off, on, …
(``bench/ab.py``). Prints per-round figures, then ``name: value`` medians, the on/off ratio
of messages/s, and per message of each: Redis commands (INFO commandstats of its own Redis,
over every round) and the CPU of the bot and of its Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ab import order  # noqa: E402
from bench.common import (  # noqa: E402
    ROOT,
    BotProcess,
    bot_core,
    emit,
    free_port,
    median,
    pin,
    start_bot,
    start_max_fake,
    svyaz_env,
    temp_dir,
)
from bench.load import Result, max_poster, redis_calls, run_load  # noqa: E402


async def start(work: Path, core: int | None, max_url: str, *, funnel: bool) -> BotProcess:
    port = free_port()
    env = svyaz_env(data_dir=work, port=port, max_url=max_url,
                    extra={"SVYAZ_FLOWS": str(ROOT / "flows_examples")})
    flags = [] if funnel else ["--no-funnel"]
    argv = [sys.executable, "-m", "bench.launch", *flags, "--no-rate-limit", "run"]
    bot = await start_bot(argv, env, data_dir=work, port=port, core=core, cwd=ROOT)
    pin(bot.proc.pid, core)
    return bot


async def run(args: argparse.Namespace, core: int | None, work: Path) -> None:
    fake, runner = await start_max_fake()
    fake.keep_requests = False
    bots = {"on": await start(work / "on", core, fake.url, funnel=True),
            "off": await start(work / "off", core, fake.url, funnel=False)}
    sockets = {side: f"unix://{work / side / 'redis.sock'}" for side in bots}
    results: dict[str, list[Result]] = {side: [] for side in bots}
    calls = dict.fromkeys(bots, 0)
    ratios: list[float] = []
    try:
        for bot in bots.values():  # warm-up: imports, pools, first turns
            await run_load(bot, max_poster(bot.url), fake.inbox, concurrency=4, seconds=1.0,
                           rate=None)
        for n in range(args.rounds):
            if args.paired:  # both at once on the one core: each gets what it costs
                before = {side: await redis_calls(sockets[side]) for side in bots}
                both = await asyncio.gather(*(
                    run_load(bot, max_poster(bot.url), fake.inbox,
                             concurrency=args.concurrency // 2, seconds=args.seconds, rate=None)
                    for bot in bots.values()))
                for side, r in zip(bots, both, strict=True):
                    calls[side] += (await redis_calls(sockets[side])).total() - before[side].total()
                    results[side].append(r)
                ratios.append(both[0].rate / both[1].rate if both[1].rate else 0.0)
                print(f"# round {n}: on {both[0].rate:.1f}, off {both[1].rate:.1f} msg/s, "
                      f"on/off {ratios[-1]:.3f}", flush=True)
                continue
            for side in order(1)[:: 1 if n % 2 == 0 else -1]:
                side = "on" if side == "after" else "off"
                bot = bots[side]
                before_one = await redis_calls(sockets[side])
                r = await run_load(bot, max_poster(bot.url), fake.inbox,
                                   concurrency=args.concurrency, seconds=args.seconds,
                                   rate=None)
                calls[side] += (await redis_calls(sockets[side])).total() - before_one.total()
                results[side].append(r)
                print(f"# funnel {side}: {r.rate:.1f} msg/s, {r.errors} errors", flush=True)
    finally:
        for bot in bots.values():
            bot.stop()
        await runner.cleanup()
    rates = {}
    for side, runs in results.items():
        rates[side] = median([r.rate for r in runs])
        messages = sum(r.messages for r in runs)
        emit(f"funnel_{side}_messages_per_second", rates[side])
        emit(f"funnel_{side}_redis_commands_per_message", calls[side] / max(1, messages))
        emit(f"funnel_{side}_bot_cpu_ms_per_message",
             sum(r.cpu for r in runs) / max(1, messages) * 1000)
        emit(f"funnel_{side}_redis_cpu_ms_per_message",
             sum(r.redis_cpu for r in runs) / max(1, messages) * 1000)
        emit(f"funnel_{side}_errors", sum(r.errors for r in runs))
    emit("ratio_funnel_on_off_messages_per_second", rates["on"] / rates["off"])
    if ratios:
        emit("paired_ratio_funnel_on_off_median", median(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6, help="rounds per side")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--alternate", dest="paired", action="store_false",
                        help="rounds one bot at a time, alternating (default: paired rounds)")
    args = parser.parse_args()
    core = bot_core(pin_bot=not args.no_pin)
    with temp_dir("svyaz-funnel-") as work:
        asyncio.run(run(args, core, work))


if __name__ == "__main__":
    main()
