"""End-to-end load: customers play the booking dialogue against ``svyaz run`` and the peer.

Starts ``svyaz run`` (MAX webhook mode, embedded Redis in a temp data dir, its own port),
``bench/peers/maxapi_bot.py`` (maxapi Dispatcher + Redis FSM + its per-user lock, its own
embedded Redis) and ``bench/peers/maxapi_lean.py`` (the same without the lock, as maxapi's
README writes bots), all pinned to one core; this process (load generator + the project's MAX
fake, which stamps when each reply arrives) runs on the other core. Per round and bot, alternately:

* saturation: ``--concurrency`` customers in a closed loop for ``--seconds``, each playing the
  9-message booking dialogue (a new customer per dialogue) -> messages/s, latency percentiles;
* half load: new dialogues started at half of svyaz's median saturation rate (open loop);
* the HTTP ceiling (``bench/peers/http_ceiling.py``, saturation only): a bot that keeps
  nothing and answers at once — what one message's two HTTP exchanges cost by themselves;
* the no-logic bot (the same with ``--redis-url``, saturation only): the ceiling plus the
  floor's Redis work per message — the most any bot that keeps state could reach.

Then a VK Callback API pass for svyaz, and the floor (bench/floor.py). Latency = webhook
posted -> reply accepted by the fake. Platform rate limiters are lifted for throughput
(bench/launch.py), as the peer has none. Prints ``name: value`` lines (medians over rounds)
and svyaz/peer and svyaz/lean ratios. Loopback only; bounded by rounds x seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis  # noqa: E402

from bench.common import (  # noqa: E402
    MAX_SECRET,
    PYTHON,
    ROOT,
    VK_SECRET,
    BotProcess,
    Inbox,
    bot_core,
    emit,
    free_port,
    median,
    percentile,
    pin,
    start_bot,
    start_max_fake,
    svyaz_argv,
    svyaz_env,
    temp_dir,
)
from bench.common import TimedVkFake as _TimedVkFake  # noqa: E402
from storage.embedded import EmbeddedRedis  # noqa: E402
from tests.bookable import bookable_day  # noqa: E402
from tests.fakes import max_wire  # noqa: E402
from tests.fakes.vk_wire import message_new  # noqa: E402

DIALOGUE: list[tuple[str, str]] = [
    ("записаться", "Какую услугу"),
    ("Стрижка", "К какому мастеру"),
    ("Анна", "На какой день"),
    (bookable_day(2), "Свободное время"),  # (never a Sunday: the salon is closed then)
    ("12:30", "персональных данных"),
    ("да", "Как вас зовут"),
    ("Мария", "номер телефона"),
    ("{phone}", "Проверьте"),
    ("да", "Готово"),
]
REPLY_TIMEOUT = 15.0
_users = itertools.count(10_000_000)

Post = Callable[[aiohttp.ClientSession, int, str], Awaitable[int]]


@dataclass
class Result:
    messages: int = 0
    completed: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: float = 0.0
    redis_cpu: float = 0.0
    peak_rss: float = 0.0

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed if self.elapsed else 0.0


def max_poster(url: str) -> Post:
    headers = {"X-Max-Bot-Api-Secret": MAX_SECRET, "Content-Type": "application/json"}

    async def post(session: aiohttp.ClientSession, user: int, text: str) -> int:
        body = json.dumps(max_wire.message_created(user, text), ensure_ascii=False)
        async with session.post(url + "/max/webhook", data=body, headers=headers) as resp:
            await resp.read()
            return resp.status

    return post


def vk_poster(url: str) -> Post:
    async def post(session: aiohttp.ClientSession, user: int, text: str) -> int:
        body = {**message_new(123456, user, text), "secret": VK_SECRET}
        async with session.post(url + "/vk/callback", json=body) as resp:
            ok = (await resp.text()) == "ok"
            return resp.status if ok else 599

    return post


async def dialogue(session: aiohttp.ClientSession, post: Post, inbox: Inbox,
                   result: Result, think: float = 0.0) -> None:
    """One booking dialogue; ``think`` seconds pass between a reply and the next message."""
    user = next(_users)
    for n, (text, needle) in enumerate(DIALOGUE):
        if think and n:
            await asyncio.sleep(think)
        text = text.format(phone=f"+7916{user % 10_000_000:07d}")
        reply = inbox.expect(user, needle)
        started = time.perf_counter()
        try:
            status = await post(session, user, text)
            if status != 200:
                result.errors += 1
                return
            arrived = await asyncio.wait_for(reply, REPLY_TIMEOUT)
        except (TimeoutError, aiohttp.ClientError):
            result.errors += 1
            return
        result.latencies.append(arrived - started)
        result.messages += 1
    result.completed += 1


async def watch(bot: BotProcess, result: Result, stop: asyncio.Event) -> None:
    while not stop.is_set():
        result.peak_rss = max(result.peak_rss, bot.rss_mb())
        await asyncio.sleep(0.2)


async def run_load(bot: BotProcess, post: Post, inbox: Inbox, *, concurrency: int,
                   seconds: float, rate: float | None) -> Result:
    """Closed loop of ``concurrency`` customers, or (``rate`` msgs/s) an open loop."""
    result, stop = Result(), asyncio.Event()
    cpu0, redis0 = bot.cpu_seconds(), bot.redis_cpu_seconds()
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:
        watcher = asyncio.create_task(watch(bot, result, stop))
        started = time.perf_counter()
        deadline = started + seconds
        if rate is None:
            async def worker() -> None:
                while time.perf_counter() < deadline:
                    await dialogue(session, post, inbox, result)
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            tasks, gap = [], len(DIALOGUE) / rate
            while time.perf_counter() < deadline:
                tasks.append(asyncio.create_task(dialogue(session, post, inbox, result)))
                await asyncio.sleep(gap)
            await asyncio.gather(*tasks)
        result.elapsed = time.perf_counter() - started
        stop.set()
        await watcher
    result.cpu = bot.cpu_seconds() - cpu0
    result.redis_cpu = bot.redis_cpu_seconds() - redis0
    return result


async def redis_calls(url: str) -> collections.Counter[str]:
    """Commands the bot's own Redis has served so far (INFO commandstats) by command, minus
    INFO itself; commands run inside scripts count under their own names too."""
    client = Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return collections.Counter({k.removeprefix("cmdstat_"): int(v["calls"])
                                for k, v in stats.items() if k != "cmdstat_info"})


def report(prefix: str, runs: list[Result]) -> dict[str, float]:
    lat = [x for r in runs for x in r.latencies]  # pooled over the rounds
    figures = {
        "completed_dialogues": sum(r.completed for r in runs),
        "messages_per_second": median([r.rate for r in runs]),
        "p50_ms": percentile(lat, 50) * 1000,
        "p95_ms": percentile(lat, 95) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "errors": sum(r.errors for r in runs),
        "cpu_seconds_per_1000_messages": median(
            [r.cpu / r.messages * 1000 for r in runs if r.messages]),
        "redis_cpu_seconds_per_1000_messages": median(
            [r.redis_cpu / r.messages * 1000 for r in runs if r.messages]),
        "peak_rss_mb": max(r.peak_rss for r in runs),
    }
    for name, value in figures.items():
        emit(f"{prefix}_{name}", float(value) if not isinstance(value, int) else value)
    return figures


async def start_svyaz(work: Path, core: int | None, *, max_url: str | None = None,
                      vk_url: str | None = None, loop: str = "uvloop") -> BotProcess:
    port = free_port()
    env = svyaz_env(data_dir=work, port=port, max_url=max_url, vk_url=vk_url,
                    extra={"SVYAZ_EVENT_LOOP": loop})
    bot = await start_bot(svyaz_argv(unlimited=True), env, data_dir=work, port=port, core=core)
    pin(bot.proc.pid, core)
    return bot


async def start_peer(work: Path, core: int | None, max_url: str, loop: str = "uvloop",
                     script: str = "maxapi_bot.py") -> tuple[BotProcess, EmbeddedRedis]:
    """A comparison peer: ``maxapi_bot.py`` (per-user lock) or ``maxapi_lean.py`` (none)."""
    redis = EmbeddedRedis(work / "redis", persist=True)
    redis.start()
    if redis._proc is not None:
        pin(redis._proc.pid, core)
    port = free_port()
    argv = [PYTHON, str(ROOT / "bench" / "peers" / script), "--port", str(port),
            "--redis-url", redis.url, "--loop", loop]
    bot = await start_bot(argv, _max_env(max_url), data_dir=work, port=port, core=core)
    if redis._proc is not None:
        bot.redis_pids.append(redis._proc.pid)
    return bot, redis


async def start_ceiling(work: Path, core: int | None, max_url: str, loop: str = "uvloop",
                        redis: EmbeddedRedis | None = None) -> BotProcess:
    """The HTTP ceiling; with ``redis``, the no-logic bot (the floor's Redis work too)."""
    port = free_port()
    argv = [PYTHON, str(ROOT / "bench" / "peers" / "http_ceiling.py"), "--port", str(port),
            "--loop", loop]
    if redis is not None:
        redis.start()
        if redis._proc is not None:
            pin(redis._proc.pid, core)
        argv += ["--redis-url", redis.url]
    bot = await start_bot(argv, _max_env(max_url), data_dir=work, port=port, core=core)
    if redis is not None and redis._proc is not None:
        bot.redis_pids.append(redis._proc.pid)
    return bot


def _max_env(max_url: str) -> dict[str, str]:
    """The environment of a comparison bot talking to the MAX fake (svyaz has its own)."""
    return {**os.environ, "MAX_TOKEN": "TESTTOKEN", "MAX_API_URL": max_url,
            "MAX_WEBHOOK_SECRET": MAX_SECRET}


def run_floor(core: int | None, seconds: float, loop: str = "uvloop") -> float:
    argv = [PYTHON, str(ROOT / "bench" / "floor.py"), "--seconds", str(seconds),
            "--core", str(core if core is not None else 0), "--loop", loop]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
    return float(out.strip().rsplit(":", 1)[1])


async def compare(args: argparse.Namespace, bot_core: int | None, work: Path) -> None:
    fake, runner = await start_max_fake()
    fake.keep_requests = False
    svyaz = await start_svyaz(work / "svyaz", bot_core, max_url=fake.url, loop=args.loop)
    peer, peer_redis = await start_peer(work / "peer", bot_core, fake.url, args.loop)
    lean, lean_redis = await start_peer(work / "lean", bot_core, fake.url, args.loop,
                                        "maxapi_lean.py")
    ceiling = await start_ceiling(work / "ceiling", bot_core, fake.url, args.loop)
    bare_redis = EmbeddedRedis(work / "bare-redis", persist=True)
    bare = await start_ceiling(work / "bare", bot_core, fake.url, args.loop, bare_redis)
    bots = {"svyaz": svyaz, "peer": peer, "lean": lean}
    sat: dict[str, list[Result]] = {name: [] for name in (*bots, "ceiling", "bare")}
    half: dict[str, list[Result]] = {name: [] for name in bots}
    try:
        for bot in bots.values():  # warm-up (imports, connection pools, first turns)
            await run_load(bot, max_poster(bot.url), fake.inbox, concurrency=4, seconds=1.0,
                           rate=None)
        urls = {"svyaz": f"unix://{work / 'svyaz' / 'redis.sock'}", "peer": peer_redis.url,
                "lean": lean_redis.url}
        before = {name: await redis_calls(url) for name, url in urls.items()}
        for bot in (ceiling, bare):
            await run_load(bot, max_poster(bot.url), fake.inbox, concurrency=4, seconds=1.0,
                           rate=None)
        for _ in range(args.rounds):
            for name, bot in {**bots, "ceiling": ceiling, "bare": bare}.items():
                sat[name].append(await run_load(bot, max_poster(bot.url), fake.inbox,
                                                concurrency=args.concurrency,
                                                seconds=args.seconds, rate=None))
        calls = {name: await redis_calls(url) - before[name] for name, url in urls.items()}
        half_rate = median([r.rate for r in sat["svyaz"]]) / 2
        for _ in range(args.rounds):
            for name, bot in bots.items():
                half[name].append(await run_load(bot, max_poster(bot.url), fake.inbox,
                                                 concurrency=0, seconds=args.seconds,
                                                 rate=half_rate))
    finally:
        stop_all([svyaz, peer, lean, ceiling, bare], [peer_redis, lean_redis, bare_redis])
        await runner.cleanup()
    s, p = report("max_svyaz", sat["svyaz"]), report("max_peer", sat["peer"])
    for name, counted in calls.items():
        sent = max(1, sum(r.messages for r in sat[name]))
        emit(f"max_{name}_redis_commands_per_message", counted.total() / sent)
        for command, n in counted.most_common():
            emit(f"max_{name}_redis_per_message_{command.replace('|', '_')}", n / sent)
    emit("half_load_messages_per_second", half_rate)
    hs, hp = report("max_svyaz_half", half["svyaz"]), report("max_peer_half", half["peer"])
    emit("ratio_svyaz_peer_messages_per_second",
         s["messages_per_second"] / p["messages_per_second"])
    emit("ratio_svyaz_peer_p99", s["p99_ms"] / p["p99_ms"])
    emit("ratio_svyaz_peer_half_p99", hs["p99_ms"] / hp["p99_ms"])
    emit("ratio_svyaz_peer_cpu_per_message",
         s["cpu_seconds_per_1000_messages"] / p["cpu_seconds_per_1000_messages"])
    emit("ratio_svyaz_peer_cpu_per_message_with_redis",
         (s["cpu_seconds_per_1000_messages"] + s["redis_cpu_seconds_per_1000_messages"])
         / (p["cpu_seconds_per_1000_messages"] + p["redis_cpu_seconds_per_1000_messages"]))
    lean_ratios(s, hs, report("max_lean", sat["lean"]), report("max_lean_half", half["lean"]))
    c = report("max_ceiling", sat["ceiling"])
    b = report("max_no_logic_bot", sat["bare"])
    floor = run_floor(bot_core, 3.0, args.loop)
    emit("floor_turns_per_second", floor)
    emit("svyaz_fraction_of_floor", s["messages_per_second"] / floor)
    emit("peer_fraction_of_floor", p["messages_per_second"] / floor)
    emit("http_ceiling_fraction_of_floor", c["messages_per_second"] / floor)
    # The no-logic bot does the floor's Redis work and the ceiling's two HTTP exchanges per
    # message and nothing else: the most a bot that keeps state could reach. The sum of the
    # two costs (one after the other on the core) says the same without running it.
    emit("no_logic_bot_fraction_of_floor", b["messages_per_second"] / floor)
    emit("no_logic_sum_fraction_of_floor",
         1 / (1 / c["messages_per_second"] + 1 / floor) / floor)
    emit("svyaz_fraction_of_no_logic_bot", s["messages_per_second"] / b["messages_per_second"])
    emit("svyaz_fraction_of_http_ceiling", s["messages_per_second"] / c["messages_per_second"])


def stop_all(processes: list[BotProcess], servers: list[EmbeddedRedis]) -> None:
    for process in processes:
        process.stop()
    for server in servers:
        server.stop()


def lean_ratios(s: dict[str, float], hs: dict[str, float], lean: dict[str, float],
                half: dict[str, float]) -> None:
    """svyaz against the lean peer (maxapi without its per-user lock): issue 17's targets."""
    emit("ratio_svyaz_lean_messages_per_second",
         s["messages_per_second"] / lean["messages_per_second"])
    emit("ratio_svyaz_lean_half_p99", hs["p99_ms"] / half["p99_ms"])
    emit("ratio_svyaz_lean_cpu_per_message_with_redis",
         (s["cpu_seconds_per_1000_messages"] + s["redis_cpu_seconds_per_1000_messages"])
         / (lean["cpu_seconds_per_1000_messages"] + lean["redis_cpu_seconds_per_1000_messages"]))


async def vk_pass(args: argparse.Namespace, bot_core: int | None, work: Path) -> None:
    fake = await _TimedVkFake().start()
    svyaz = await start_svyaz(work / "svyaz-vk", bot_core, vk_url=fake.api_url,
                              loop=args.loop)
    runs, halves = [], []
    try:
        post = vk_poster(svyaz.url)
        await run_load(svyaz, post, fake.inbox, concurrency=4, seconds=1.0, rate=None)
        for _ in range(args.rounds):
            runs.append(await run_load(svyaz, post, fake.inbox, concurrency=args.concurrency,
                                       seconds=args.seconds, rate=None))
        half_rate = median([r.rate for r in runs]) / 2
        for _ in range(args.rounds):
            halves.append(await run_load(svyaz, post, fake.inbox, concurrency=0,
                                         seconds=args.seconds, rate=half_rate))
    finally:
        svyaz.stop()
        await fake.close()
    report("vk_svyaz", runs)
    report("vk_svyaz_half", halves)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-vk", action="store_true")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="the event loop of every bot and of the floor (svyaz's default: "
                             "uvloop)")
    args = parser.parse_args()
    core = bot_core(pin_bot=not args.no_pin)
    emit("bot_core", core if core is not None else "unpinned")
    emit("event_loop", args.loop)
    with temp_dir("svyaz-load-") as work:
        asyncio.run(compare(args, core, work))
        if not args.no_vk:
            asyncio.run(vk_pass(args, core, work))


if __name__ == "__main__":
    main()
