"""Web chat visitors who never write, and stopping with a tab open.

Starts ``svyaz run`` (web chat only, embedded Redis, temp data dir). Then:

* ``--visitors`` sockets, one after another (a few at a time), each says hello, opens the
  chat (``{"type":"open"}``) and waits for the greeting, then closes without writing:
  Redis keys and bytes (``MEMORY USAGE`` of every new key, and ``used_memory``) left per
  visitor;
* one tab open (hello, open, greeting), then SIGTERM: seconds until the process exits, and
  the close code the tab received.

An older server answers ``open`` with an error frame and greets on hello; both are counted
the same way. Loopback only; bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis  # noqa: E402

from bench.common import emit, free_port, start_bot, svyaz_argv, svyaz_env, temp_dir  # noqa: E402

GREETING = "Чем могу помочь"


async def visit(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A tab: hello, open, the greeting. Returns the open socket."""
    ws = await http.ws_connect(f"{url}/chat/ws", headers={"Origin": url})
    await ws.send_json({"type": "hello", "session": None})
    await ws.send_json({"type": "open"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message = await ws.receive(timeout=10)
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"socket ended before the greeting: {message.type}")
        frame = json.loads(message.data)
        if frame.get("type") == "reply" and GREETING in frame.get("text", ""):
            return ws
    raise RuntimeError("no greeting")


async def footprint(redis: Redis) -> tuple[int, int, int]:
    """(keys, bytes of all keys by MEMORY USAGE, used_memory)."""
    keys = [key async for key in redis.scan_iter(count=1000)]
    sizes = [await redis.memory_usage(key) or 0 for key in keys]
    used = int((await redis.info("memory"))["used_memory"])
    return len(keys), sum(sizes), used


async def visitors(url: str, count: int, parallel: int = 8) -> None:
    queue = iter(range(count))

    async def worker(http: aiohttp.ClientSession) -> None:
        for _ in queue:
            ws = await visit(http, url)
            await ws.close()

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http) for _ in range(parallel)))


async def bench(args: argparse.Namespace, work: Path) -> None:
    port = free_port()
    bot = await start_bot(svyaz_argv(), svyaz_env(data_dir=work, port=port), data_dir=work,
                          port=port, core=None)
    redis = Redis.from_url(f"unix://{work / 'redis.sock'}")
    try:
        await asyncio.sleep(1.0)
        keys0, bytes0, used0 = await footprint(redis)
        started = time.perf_counter()
        await visitors(bot.url, args.visitors)
        emit("visitors", args.visitors)
        emit("visitors_seconds", time.perf_counter() - started)
        await asyncio.sleep(1.0)
        keys1, bytes1, used1 = await footprint(redis)
        emit("redis_keys_left", keys1 - keys0)
        emit("redis_keys_per_visitor", (keys1 - keys0) / args.visitors)
        emit("redis_key_bytes_per_visitor", (bytes1 - bytes0) / args.visitors)
        emit("redis_used_memory_per_visitor", (used1 - used0) / args.visitors)
        await redis.aclose()
        async with aiohttp.ClientSession() as http:
            tab = await visit(http, bot.url)
            stopped = time.perf_counter()
            bot.proc.send_signal(signal.SIGTERM)
            closed = asyncio.create_task(tab.receive(timeout=60))
            await asyncio.to_thread(bot.proc.wait, 90)
            emit("stop_seconds_with_tab", time.perf_counter() - stopped)
            message = await closed
            emit("tab_close_code", tab.close_code if message.type is not aiohttp.WSMsgType.TEXT
                 else f"frame {message.data[:40]}")
    finally:
        with contextlib.suppress(Exception):
            await redis.aclose()
        bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1000)
    args = parser.parse_args()
    with temp_dir("svyaz-visitors-") as work:
        asyncio.run(bench(args, work))


if __name__ == "__main__":
    main()
