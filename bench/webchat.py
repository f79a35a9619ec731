"""Web chat at scale: thousands of WebSocket sessions on one ``svyaz run`` process.

Starts ``svyaz run`` (web chat only, embedded Redis, temp data dir) pinned to one core; this
process (the clients) runs on the other. Opens ``--sessions`` sockets to ``/chat/ws``, each
says hello, opens the chat and waits for the bot's greeting (the start flow). The web chat
allows 20 sockets per remote address and svyaz has no setting to raise it, so clients bind
local addresses 127.0.0.2, 127.0.0.3, ... (20 sockets each). Then:

* memory per idle session: bot RSS with all sessions idle minus RSS before, / sessions
  (and the embedded Redis's ``used_memory`` per session);
* latency at ``--rate`` messages/s spread over the sessions for ``--seconds``: each message
  is the session's next step of the booking dialogue; latency = frame sent -> reply frame.

Raises ``RLIMIT_NOFILE`` to its hard limit (inherited by the bot). Loopback only; bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis  # noqa: E402

from bench.common import (  # noqa: E402
    BotProcess,
    bot_core,
    emit,
    free_port,
    percentile,
    pin,
    start_bot,
    svyaz_argv,
    svyaz_env,
    temp_dir,
)
from bench.load import DIALOGUE  # noqa: E402

PER_ADDRESS = 20
GREETING = "Чем могу помочь"


@dataclass
class Session:
    ws: aiohttp.ClientWebSocketResponse
    step: int = 0
    busy: bool = False
    waiting: tuple[str, asyncio.Future[float]] | None = None
    reader: asyncio.Task[None] | None = None
    replies: int = 0


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0
    error_frames: int = 0
    codes: dict[str, int] = field(default_factory=dict)


async def read_frames(session: Session, stats: Stats) -> None:
    async for message in session.ws:
        if message.type is not aiohttp.WSMsgType.TEXT:
            continue
        frame = json.loads(message.data)
        if frame.get("type") == "error":
            stats.error_frames += 1
            stats.codes[str(frame.get("code"))] = stats.codes.get(str(frame.get("code")), 0) + 1
        if frame.get("type") != "reply":
            continue
        session.replies += 1
        waiting = session.waiting
        if waiting is not None and waiting[0] in frame.get("text", "") and not waiting[1].done():
            waiting[1].set_result(time.perf_counter())


async def expect(session: Session, needle: str, timeout: float = 30.0) -> float:
    fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    session.waiting = (needle, fut)
    try:
        return await asyncio.wait_for(fut, timeout)
    finally:
        session.waiting = None


async def open_session(http: aiohttp.ClientSession, url: str, origin: str,
                       stats: Stats) -> Session | None:
    try:
        ws = await http.ws_connect(url, headers={"Origin": origin}, heartbeat=None,
                                   autoping=True)
    except (aiohttp.ClientError, OSError):
        stats.errors += 1
        return None
    session = Session(ws)
    greeted = asyncio.get_running_loop().create_future()
    session.waiting = (GREETING, greeted)
    session.reader = asyncio.create_task(read_frames(session, stats))
    await ws.send_str(json.dumps({"type": "hello", "session": None}))
    await ws.send_str(json.dumps({"type": "open"}))  # the visitor opens the chat: greeted
    try:
        await asyncio.wait_for(greeted, 60)
    except TimeoutError:
        stats.errors += 1
    session.waiting = None
    return session


async def open_all(bot: BotProcess, count: int, stats: Stats,
                   clients: list[aiohttp.ClientSession]) -> list[Session]:
    url, origin = f"{bot.url}/chat/ws", bot.url
    sessions: list[Session] = []
    # redis-py 8's asyncio pool holds at most 100 connections and raises (not waits) beyond
    # that, so a burst of more concurrent greetings gets "unavailable": open 50 at a time.
    gate = asyncio.Semaphore(50)

    async def one(http: aiohttp.ClientSession) -> None:
        async with gate:
            session = await open_session(http, url, origin, stats)
        if session is not None:
            sessions.append(session)

    jobs = []
    for index in range(count):
        address = index // PER_ADDRESS
        if address >= len(clients):
            host = f"127.0.{address // 250}.{2 + address % 250}"
            connector = aiohttp.TCPConnector(limit=0, local_addr=(host, 0))
            clients.append(aiohttp.ClientSession(connector=connector))
        jobs.append(one(clients[address]))
    await asyncio.gather(*jobs)
    return sessions


async def talk(session: Session, stats: Stats) -> None:
    text, needle = DIALOGUE[session.step % len(DIALOGUE)]
    text = text.format(phone=f"+7916{random.randrange(10**7):07d}")
    session.step += 1
    session.busy = True
    started = time.perf_counter()
    try:
        fut = asyncio.get_running_loop().create_future()
        session.waiting = (needle, fut)
        await session.ws.send_str(json.dumps({"type": "text", "text": text,
                                              "id": f"m{session.step}"}))
        stats.sent += 1
        arrived = await asyncio.wait_for(fut, 30)
        stats.latencies.append(arrived - started)
    except (TimeoutError, ConnectionError, RuntimeError):
        stats.errors += 1
    finally:
        session.waiting = None
        session.busy = False


async def drive(sessions: list[Session], rate: float, seconds: float,
                stats: Stats) -> tuple[float, float]:
    """Offer ``rate`` messages/s for ``seconds``; (offered rate, answered rate until the last
    reply came)."""
    tasks, gap = [], 1.0 / rate
    started = time.perf_counter()
    deadline, next_at = started + seconds, started
    while (now := time.perf_counter()) < deadline:
        if now < next_at:
            await asyncio.sleep(next_at - now)
        next_at += gap
        idle = [s for s in random.sample(sessions, min(50, len(sessions))) if not s.busy]
        if idle:
            tasks.append(asyncio.create_task(talk(idle[0], stats)))
    offered = stats.sent / (time.perf_counter() - started)
    await asyncio.gather(*tasks)
    return offered, len(stats.latencies) / (time.perf_counter() - started)


async def redis_memory(url: str) -> int:
    client = Redis.from_url(url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def bench(args: argparse.Namespace, core: int | None, work: Path) -> None:
    port = free_port()
    env = svyaz_env(data_dir=work, port=port)
    bot = await start_bot(svyaz_argv(), env, data_dir=work, port=port, core=core)
    pin(bot.proc.pid, core)
    redis_url = f"unix://{work / 'redis.sock'}"
    clients: list[aiohttp.ClientSession] = []
    stats = Stats()
    try:
        await asyncio.sleep(1.0)
        rss0, mem0 = bot.rss_mb(), await redis_memory(redis_url)
        started = time.perf_counter()
        sessions = await open_all(bot, args.sessions, stats, clients)
        emit("sessions_open", len(sessions))
        emit("connect_seconds", time.perf_counter() - started)
        await asyncio.sleep(3.0)
        open_now = sum(not s.ws.closed for s in sessions)
        rss1, mem1 = bot.rss_mb(), await redis_memory(redis_url)
        emit("sessions_idle", open_now)
        emit("bot_rss_before_mb", rss0)
        emit("bot_rss_idle_mb", rss1)
        emit("kb_per_idle_session", (rss1 - rss0) * 1024 / max(1, open_now))
        emit("redis_bytes_per_session", (mem1 - mem0) / max(1, open_now))
        setup_errors = stats.errors
        offered, answered = await drive(sessions, args.rate, args.seconds, stats)
        emit("offered_messages_per_second", offered)
        emit("answered_messages_per_second", answered)
        emit("messages_sent", stats.sent)
        emit("p50_ms", percentile(stats.latencies, 50) * 1000)
        emit("p95_ms", percentile(stats.latencies, 95) * 1000)
        emit("p99_ms", percentile(stats.latencies, 99) * 1000)
        emit("setup_errors", setup_errors)
        emit("errors", stats.errors - setup_errors)
        emit("error_frames", stats.error_frames)
        for code, count in sorted(stats.codes.items()):
            emit(f"error_frames_{code}", count)
        emit("peak_bot_rss_mb", bot.rss_mb())
        emit("sessions_open_at_end", sum(not s.ws.closed for s in sessions))
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.ws.close()
            if session.reader is not None:
                session.reader.cancel()
    finally:
        for http in clients:
            await http.close()
        bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * args.sessions + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    emit("nofile_limit", want)
    core = bot_core()
    with temp_dir("svyaz-webchat-") as work:
        asyncio.run(bench(args, core, work))


if __name__ == "__main__":
    main()
