"""One broadcast to many customers: drain time against the platforms' limits, 429s, lost and
doubled copies (``name: value`` lines), optionally through kill -9 of the bot.

``svyaz run`` with MAX (webhook mode, the fake enforcing MAX's 30 requests/s with 429 above
it) and VK (the project's VK fake), its shipped rate limiters. ``--customers`` customers (half
MAX, half VK) are written into the bot's Redis as intake leaves them (a MAX account with its
dialog's chat kept, so an outbox re-send can read the dialog back; ``--bare-max``: without,
as an account from before routes were kept), a service broadcast to the example segment
``all_who_wrote`` is created and started there (``bots.broadcasts``, as ``svyaz broadcast
start`` does); the bot's own sender sends it. The ideal drain is the slower platform's: MAX
``n/2 / 30`` s, VK ``ceil(n/2 / 100) / 20`` s (up to 100 ``peer_ids`` per ``messages.send``,
``bots.broadcast_vk``), so MAX's in practice.
``--kill-every S`` kills the bot with SIGKILL every S seconds and starts it again: lost and
doubled must stay 0. ``--live-think S``: meanwhile a MAX customer plays the booking dialogue
(answering S s after each reply); its reply latency shows that live replies go first.
Loopback only; bounded by ``--timeout``.

Usage: ``.venv/bin/python bench/broadcast.py [--customers 20000] [--kill-every 0]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    BotProcess,
    TimedVkFake,
    bot_core,
    emit,
    free_port,
    percentile,
    start_bot,
    start_max_fake,
    svyaz_argv,
    svyaz_env,
    temp_dir,
)
from bench.drills.kill9 import kill_tree  # noqa: E402
from bench.load import Result  # noqa: E402
from bench.reminders import live_dialogues  # noqa: E402
from bots.audience import SegmentFile  # noqa: E402
from bots.broadcasts import Broadcaster  # noqa: E402
from flows.broadcast import BroadcastSpec  # noqa: E402
from storage.store import Store  # noqa: E402
from tests.fakes.max_wire import chat_of  # noqa: E402

TEXT = "Салон закрыт 31 декабря"
MAX_RPS, VK_RPS, VK_PEERS = 30, 20, 100
FIRST_USER = 60_000_000


async def seed(store: Store, count: int, *, bare: bool) -> tuple[list[int], list[int]]:
    """Half MAX, half VK customers, as intake leaves them after their first message: a MAX
    account with its dialog's chat kept (``bots.routes_kept``; ``bare``: without, as an account
    from before routes were kept, whose first message MAX cannot be asked about)."""
    half = count // 2
    max_users = list(range(FIRST_USER, FIRST_USER + half))
    vk_users = list(range(FIRST_USER, FIRST_USER + count - half))

    async def max_customer(user: int) -> None:
        customer = await store.identities.resolve(f"max:{user}")
        if not bare:
            await store.identities.set_route(customer, f"max:{user}",
                                             f"dialog:{chat_of(user)}:{user}")

    for start in range(0, half, 500):
        await asyncio.gather(*(max_customer(u) for u in max_users[start:start + 500]))
        await asyncio.gather(*(store.identities.resolve(f"vk:{u}")
                               for u in vk_users[start:start + 500]))
    return max_users, vk_users


async def keep_killing(bot: list[BotProcess], every: float, stop: asyncio.Event,
                       restart: Callable[[], Awaitable[BotProcess]]) -> int:
    kills = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return kills
        except TimeoutError:
            pass
        await asyncio.to_thread(kill_tree, bot[0].proc.pid)  # the bot and its embedded Redis
        bot[0].proc.wait()
        kills += 1
        bot[0] = await restart()
    return kills


async def run(args: argparse.Namespace, work: Path) -> None:
    max_fake, max_runner = await start_max_fake()
    max_fake.limit_rps = MAX_RPS
    max_fake.keep_requests = False
    max_fake.keep_sent = True  # a re-send reads the dialog back (GET /messages)
    vk_fake = await TimedVkFake().start()
    port, core = free_port(), bot_core(pin_bot=False)
    env = svyaz_env(data_dir=work / "bot", port=port, max_url=max_fake.url,
                    vk_url=vk_fake.api_url)

    async def restart() -> BotProcess:
        return await start_bot(svyaz_argv(), env, data_dir=work / "bot", port=port, core=core)

    bot = [await restart()]
    store = Store.from_url(f"unix://{work / 'bot' / 'redis.sock'}")
    stop = asyncio.Event()
    try:
        started = time.perf_counter()
        max_users, vk_users = await seed(store, args.customers, bare=args.bare_max)
        emit("seed_seconds", time.perf_counter() - started)
        owner = Broadcaster(store=store, segments=SegmentFile(ROOT / "flows_examples",
                                                              ("max", "vk", "web")))
        spec = BroadcastSpec(title="bench", kind="service", segment="all_who_wrote", text=TEXT)
        await owner.create(spec, "bench")
        queued = await owner.start("bench")
        begin = time.perf_counter()
        killer = asyncio.create_task(keep_killing(bot, args.kill_every, stop, restart)) \
            if args.kill_every else None
        live = Result()
        talker = asyncio.create_task(live_dialogues(bot[0].url, max_fake.inbox, stop, live,
                                                    args.live_think)) \
            if args.live_think else None
        ideal = max(len(max_users) / MAX_RPS, -(-len(vk_users) // VK_PEERS) / VK_RPS)
        deadline = begin + ideal * 2 + args.timeout
        while time.perf_counter() < deadline:
            got = (sum(max_fake.inbox.count_of(u, TEXT) > 0 for u in max_users)
                   + sum(vk_fake.inbox.count_of(u, TEXT) > 0 for u in vk_users))
            if got == len(max_users) + len(vk_users):
                break
            await asyncio.sleep(1.0)
        stop.set()
        kills = await killer if killer is not None else 0
        if talker is not None:
            await talker
        await asyncio.sleep(2.0)  # a late re-send would show as doubled
        counts = ([max_fake.inbox.count_of(u, TEXT) for u in max_users]
                  + [vk_fake.inbox.count_of(u, TEXT) for u in vk_users])
        arrivals = [t for inbox, users in ((max_fake.inbox, max_users), (vk_fake.inbox, vk_users))
                    for u in users for t, text in inbox.replies.get(u, ()) if TEXT in text]
        drain = max(arrivals) - begin if arrivals else float("nan")
        emit("customers", len(counts))
        emit("queued", queued)
        emit("drain_seconds", drain)
        emit("ideal_drain_seconds", ideal)
        emit("drain_over_ideal", drain / ideal)
        emit("max_responses_429", max_fake.throttled)
        emit("vk_send_requests", len(vk_fake.calls_of("messages.send")))
        emit("vk_max_requests_per_s", vk_fake.max_rate())
        emit("kills", kills)
        emit("lost", sum(c == 0 for c in counts))
        emit("doubled", sum(c > 1 for c in counts))
        emit("doubled_max", sum(c > 1 for c in counts[:len(max_users)]))
        emit("doubled_vk", sum(c > 1 for c in counts[len(max_users):]))
        if talker is not None:
            emit("live_think_seconds", args.live_think)
            emit("live_messages", live.messages)
            emit("live_errors", live.errors)
            emit("live_p50_ms", percentile(live.latencies, 50) * 1000)
            emit("live_p99_ms", percentile(live.latencies, 99) * 1000)
            emit("live_max_ms", max(live.latencies, default=float("nan")) * 1000)
    finally:
        stop.set()
        await store.close()
        bot[0].stop()
        await vk_fake.close()
        await max_runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--kill-every", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--live-think", type=float, default=0.0,
                        help="a MAX customer plays the booking dialogue meanwhile, answering "
                             "this many seconds after each reply (0: none)")
    parser.add_argument("--bare-max", action="store_true",
                        help="MAX accounts without their dialog's chat kept (an account from "
                             "before routes were kept: its first message after a kill between "
                             "MAX's acceptance and the ack may show twice)")
    args = parser.parse_args()
    with temp_dir("svyaz-broadcast-") as work:
        asyncio.run(run(args, work))


if __name__ == "__main__":
    main()
