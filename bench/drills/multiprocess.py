"""Drill: three ``svyaz run`` as three hosts behind HAProxy on a 3-node Redis Cluster, kill -9.

Hosts are network namespaces with their own addresses (``bench/drills/hosts.py``; plain ports
on 127.0.0.1 where namespaces cannot be made: the ``hosts`` line says which), HAProxy from
Debian's package balances them round-robin with health checks, and the Redis Cluster is
``bench/drills/cluster.py``'s. Customers play the booking dialogue through the balancer, over
MAX webhooks and VK callbacks at once, re-delivered until accepted as the platforms do
(``bench/drills/harness.Load``).

Part 1, throughput: 1, 2 and 3 processes, platform rate limits lifted (as bench/load.py), no
kills: delivered replies per second through the balancer for each.
Part 2, chaos: the shipped rate limits (MAX 30, VK 20 requests per second per bot, shared
through Redis), reminders due during the run, and every ``--every`` s (jittered) a random
process gets SIGKILL and is started again on its host and data folder. Web chat visitors talk
through the balancer at the same time (``bench/drills/webvisitors.py``: a killed socket is
opened again with the session, as the widget does). Prints sent / delivered / lost / doubled
per channel (web: answered / lost / doubled / reconnects), kills, the most MAX requests
and VK API calls the fakes saw in any one second (all processes together), and reminders
fired / lost / doubled.
Targets: lost 0, doubled 0, MAX <= 30 and VK <= 20 in every second, each reminder once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.common import (  # noqa: E402
    PYTHON,
    BotProcess,
    TimedMaxFake,
    TimedVkFake,
    emit,
    free_port,
    svyaz_env,
    tail,
    temp_dir,
    wait_healthy,
)
from bench.drills.autopsy import autopsy  # noqa: E402
from bench.drills.cluster import redis_cluster  # noqa: E402
from bench.drills.harness import Load  # noqa: E402
from bench.drills.hosts import Hosts  # noqa: E402
from bench.drills.webvisitors import WebVisitors  # noqa: E402
from bots.metrics import Metrics  # noqa: E402
from bots.scheduler import ReminderService  # noqa: E402
from flows.types import Event, ScheduleReminder  # noqa: E402
from storage.store import Store  # noqa: E402

HAPROXY = "/usr/sbin/haproxy"
PORT = 8080  # each host's svyaz port (netns: the same on every address)
ZONE = ZoneInfo("Europe/Moscow")
REMINDER_TEXT = "Напоминаем о записи"
VARS = {"service": "Стрижка", "day": "2026-12-01", "time": "12:30"}
SECRET_KEY = secrets.token_urlsafe(32)  # equal on every host (web sessions, link tokens)


class Fleet:
    """The svyaz processes of one run, one per host, and the balancer in front."""

    def __init__(self, hosts: Hosts, work: Path, env: dict[str, str], *, unlimited: bool) -> None:
        self.hosts = hosts
        self.work = work
        self.env = env
        self.unlimited = unlimited
        self.ports = [PORT if hosts.mode == "netns" else free_port() for _ in range(hosts.count)]
        self.bots: dict[int, BotProcess] = {}
        self.balancer: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.kill_times: list[float] = []

    def _addr(self, i: int) -> str:
        return f"{self.hosts.address(i)}:{self.ports[i]}"

    async def start(self, i: int) -> BotProcess:
        data = self.work / f"host{i}"
        data.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "SVYAZ_HOST": self.hosts.address(i), "SVYAZ_PORT": str(self.ports[i]),
               "SVYAZ_DATA_DIR": str(data)}
        argv = [PYTHON, "-m", "bench.launch", *(["--no-rate-limit"] if self.unlimited else []),
                "run"]
        log = data / "bot.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(self.hosts.wrap(i, argv), env=env, stdout=out, stderr=out,
                                    cwd=str(Path(__file__).resolve().parents[2]))
        bot = BotProcess(proc, self.ports[i], data, log)
        try:
            await wait_healthy(f"http://{self._addr(i)}", proc)
        except RuntimeError:
            bot.stop(5)
            raise RuntimeError(f"host {i} did not start:\n{tail(log)}") from None
        self.bots[i] = bot
        return bot

    def balance(self, hosts: list[int], folder: Path) -> None:
        port = free_port()
        servers = "\n".join(f"  server h{i} {self._addr(i)} check" for i in hosts)
        config = folder / "haproxy.cfg"
        config.write_text(
            "global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 2s\n"
            "  timeout client 60s\n  timeout server 60s\n  timeout tunnel 1h\n  retries 3\n"
            "  option redispatch\n"
            f"frontend svyaz\n  bind 127.0.0.1:{port}\n  default_backend hosts\n"
            "backend hosts\n  balance roundrobin\n  option httpchk GET /healthz\n"
            f"  default-server inter 300ms fall 1 rise 2\n{servers}\n", encoding="utf-8")
        self.balancer = subprocess.Popen([HAPROXY, "-f", str(config), "-db"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"

    def kill(self, i: int) -> None:
        self.kill_times.append(time.perf_counter())
        self.bots.pop(i).kill9()

    def stop(self) -> None:
        for bot in self.bots.values():
            bot.stop()
        self.bots.clear()
        if self.balancer is not None:
            self.balancer.terminate()
            self.balancer.wait()


async def start_fakes(host: str) -> tuple[TimedMaxFake, TimedVkFake, list[web.AppRunner]]:
    """The MAX and VK fakes on ``host`` (where the hosts reach this machine)."""
    max_fake = TimedMaxFake()
    vk_fake = TimedVkFake()
    vk_app = web.Application()
    vk_app.router.add_route("*", "/method/{name}", vk_fake._method)
    runners = [web.AppRunner(max_fake.app, shutdown_timeout=0.5, access_log=None),
               web.AppRunner(vk_app, shutdown_timeout=0.5, access_log=None)]
    for runner in runners:
        await runner.setup()
        await web.TCPSite(runner, host, 0).start()
    max_fake.url = f"http://{host}:{runners[0].addresses[0][1]}"
    vk_fake.url = f"http://{host}:{runners[1].addresses[0][1]}"
    return max_fake, vk_fake, runners


def bot_env(redis_url: str, bot: str, max_fake: TimedMaxFake, vk_fake: TimedVkFake,
            balancer_host: str) -> dict[str, str]:
    env = svyaz_env(data_dir=Path("."), port=PORT, max_url=max_fake.url, vk_url=vk_fake.api_url)
    env.update({"SVYAZ_REDIS_URL": redis_url, "SVYAZ_BOT": bot, "SVYAZ_SECRET_KEY": SECRET_KEY,
                "SVYAZ_PUBLIC_URL": "http://127.0.0.1", "SVYAZ_TRUSTED_PROXIES": balancer_host})
    return env


async def throughput(args: argparse.Namespace, hosts: Hosts, work: Path, redis_url: str,
                     max_fake: TimedMaxFake, vk_fake: TimedVkFake) -> None:
    for count in (1, 2, 3):
        env = bot_env(redis_url, f"tp{count}", max_fake, vk_fake, hosts.gateway)
        fleet = Fleet(hosts, work / f"tp{count}", env, unlimited=True)
        try:
            await asyncio.gather(*(fleet.start(i) for i in range(count)))
            fleet.balance(list(range(count)), fleet.work)
            await asyncio.sleep(1.0)  # the balancer's health checks pass
            load = Load("max", max_fake.inbox, base_user=80_000_000 + count * 1_000_000)
            load.url = fleet.url
            started = time.perf_counter()
            await load.run(args.tp_seconds, args.tp_concurrency)
            elapsed = time.perf_counter() - started
            emit(f"processes_{count}_replies_per_second", round(load.tally.delivered / elapsed, 1))
        finally:
            fleet.stop()


async def schedule_reminders(redis_url: str, bot: str, users: list[int],
                             seconds: float) -> None:
    """One reminder per user, due at random moments of the chaos run (added through the same
    ``ReminderService`` API svyaz uses: any process adds, the elected leader fires)."""
    store = Store.from_url(redis_url, bot=bot)
    await store.ready()

    async def nowhere(customer: str, event: Event, **_: object) -> bool:
        return True

    service = ReminderService(store=store, redis_url=redis_url, metrics=Metrics(),
                              inject=nowhere, zone=ZONE)
    await service.start(lead=False)
    now = datetime.now(ZONE)
    for user in users:
        customer = await store.identities.resolve(f"max:{user}")
        at = now + timedelta(seconds=random.uniform(5, max(6.0, seconds - 5)))
        await service.schedule(customer, ScheduleReminder(key="visit-24h", at=at,
                                                          flow="visit_reminder", vars=VARS))
    await service.stop()
    await store.close()


async def chaos(args: argparse.Namespace, fleet: Fleet) -> int:
    kills = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(random.uniform(0.5, 1.5) * args.every)
        victim = random.choice(sorted(fleet.bots))
        fleet.kill(victim)
        kills += 1
        await fleet.start(victim)
    return kills


async def chaos_run(args: argparse.Namespace, hosts: Hosts, work: Path, redis_url: str,
                    max_fake: TimedMaxFake, vk_fake: TimedVkFake) -> None:
    users = list(range(90_000_000, 90_000_000 + args.reminders))
    await schedule_reminders(redis_url, "drill", users, args.seconds)
    fleet = Fleet(hosts, work / "chaos", bot_env(redis_url, "drill", max_fake, vk_fake,
                                                 hosts.gateway), unlimited=False)
    max_load = Load("max", max_fake.inbox, base_user=60_000_000)
    # (phones derive from the last 7 digits of the user id: VK's differ from MAX's, or the
    # bot rightly sees one phone typed in two channels and offers to link them)
    vk_load = Load("vk", vk_fake.inbox, base_user=75_000_000)
    web = WebVisitors("", origin="http://127.0.0.1")  # the public URL: an allowed origin
    try:
        await asyncio.gather(*(fleet.start(i) for i in range(hosts.count)))
        fleet.balance(list(range(hosts.count)), fleet.work)
        await asyncio.sleep(1.0)
        max_load.url = vk_load.url = fleet.url
        killing = asyncio.create_task(chaos(args, fleet))
        web.url = fleet.url.replace("http://", "ws://") + "/chat/ws"
        await asyncio.gather(max_load.run(args.seconds, args.concurrency),
                             vk_load.run(args.seconds, args.concurrency),
                             web.run(args.seconds, args.web_visitors))
        kills = await killing
        await asyncio.gather(max_load.finish(args.grace), vk_load.finish(args.grace))
        deadline = time.monotonic() + args.grace
        while time.monotonic() < deadline and not all(
                max_fake.inbox.count_of(u, REMINDER_TEXT) for u in users):
            await asyncio.sleep(0.5)
        await autopsy(redis_url, "drill", [
            (name, user, needle, load.tally.posted[(user, needle)])
            for name, load in (("max", max_load), ("vk", vk_load))
            for user, needle in load.tally.waiting], fleet.kill_times)
    finally:
        fleet.stop()
    emit("kills", kills)
    for name, load, inbox in (("max", max_load, max_fake.inbox), ("vk", vk_load, vk_fake.inbox)):
        emit(f"{name}_sent", load.tally.sent)
        emit(f"{name}_delivered", load.tally.delivered)
        emit(f"{name}_lost", load.tally.lost)
        emit(f"{name}_doubled", load.tally.doubled(inbox))
    if args.explain:
        explain(max_load, max_fake.inbox, kill_times=fleet.kill_times)
    for name, value in vars(web.tally).items():
        emit(f"web_{name}", value)
    emit("max_requests_in_any_second", max_fake.max_in_window(1.0))
    emit("vk_requests_in_any_second", vk_fake.max_rate(1.0))
    counts = [max_fake.inbox.count_of(u, REMINDER_TEXT) for u in users]
    emit("reminders", len(users))
    emit("reminders_fired_once", sum(c == 1 for c in counts))
    emit("reminders_lost", sum(c == 0 for c in counts))
    emit("reminders_doubled", sum(c > 1 for c in counts))


def explain(load: Load, inbox: object, *, kill_times: list[float]) -> None:
    """To stderr: each doubled reply's copies, seconds after the nearest kill before them."""
    for user, needle in load.tally.expected:
        arrivals = [at for at, text in inbox.replies.get(user, ()) if needle in text]  # type: ignore[attr-defined]
        if len(arrivals) > 1:
            kill = max((k for k in kill_times if k <= arrivals[0]), default=None)
            after = [round(a - kill, 2) for a in arrivals] if kill is not None else arrivals
            print(f"doubled: user {user} {needle!r}: copies at {after} s after a kill",
                  file=sys.stderr)
    print(f"statuses {load.tally.statuses} redeliveries {load.tally.redeliveries}",
          file=sys.stderr)


async def drill(args: argparse.Namespace) -> None:
    if not os.access(HAPROXY, os.X_OK):
        raise SystemExit(f"this drill needs Debian's haproxy ({HAPROXY}): apt-get install haproxy")
    with temp_dir("svyaz-multi-") as work, Hosts(3, netns=not args.no_netns) as hosts:
        emit("hosts", hosts.mode + (f" ({hosts.why_not})" if hosts.why_not else ""))
        emit("cores", f"{os.cpu_count()} (load average {os.getloadavg()[0]:.1f})")
        with redis_cluster(work / "redis", host=hosts.gateway) as redis_url:
            max_fake, vk_fake, runners = await start_fakes(hosts.gateway)
            try:
                if not args.no_throughput:
                    await throughput(args, hosts, work, redis_url, max_fake, vk_fake)
                max_fake.requests.clear()
                vk_fake.calls.clear()
                await chaos_run(args, hosts, work, redis_url, max_fake, vk_fake)
            finally:
                for runner in runners:
                    with contextlib.suppress(Exception):
                        await runner.cleanup()
        if args.keep_logs:
            shutil.copytree(work, args.keep_logs, dirs_exist_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="chaos run length")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between kills")
    parser.add_argument("--concurrency", type=int, default=6, help="customers per channel")
    parser.add_argument("--reminders", type=int, default=30)
    parser.add_argument("--web-visitors", type=int, default=4)
    parser.add_argument("--grace", type=float, default=90.0)
    parser.add_argument("--tp-seconds", type=float, default=15.0)
    parser.add_argument("--tp-concurrency", type=int, default=24)
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--no-netns", action="store_true", help="hosts as ports on 127.0.0.1")
    parser.add_argument("--keep-logs", type=Path, default=None)
    parser.add_argument("--explain", action="store_true", help="doubled replies to stderr")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # cleanup (netns, cluster) runs
    asyncio.run(drill(args))


if __name__ == "__main__":
    main()
