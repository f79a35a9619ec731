"""MAX send-path benchmark: ``MaxClient.send`` against the project's MAX fake (``name: value``).

The fake (``bench.common.start_max_fake``) runs in a child process, so this process's CPU
time is the client's alone: svyaz's limiter, retry policy, maxapi's ``Bot`` and aiohttp.
The rate limit is lifted (``ArrivalLimiter(1_000_000, 1.0)``); sends go ``CONCURRENCY`` at a
time, every third one with an inline keyboard (and every ninth with an image) as
``connectors.maxbot.render`` produces them, the rest plain text.

* ``sends_per_second``: accepted sends per wall-clock second;
* ``cpu_ms_per_send``: this process's CPU (``time.process_time``) per send;
* ``fake_accepted``: sends the fake accepted (must equal ``sends``).

Usage: ``.venv/bin/python bench/max_send.py [N] [--profile]`` (N defaults to 3000;
``--profile`` prints the top of a cProfile of the timed run to stderr).
"""

from __future__ import annotations

import asyncio
import cProfile
import multiprocessing as mp
import pstats
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, start_max_fake  # noqa: E402
from connectors.common import ArrivalLimiter  # noqa: E402
from connectors.maxbot.client import MaxClient, RetryPolicy  # noqa: E402
from connectors.maxbot.render import NewMessageBody, render  # noqa: E402
from flows.types import Button, Reply  # noqa: E402

SENDS = 3000
WARMUP = 200
CONCURRENCY = 32


def serve_fake(pipe: Connection) -> None:
    """Child process: run the fake until the parent asks for its count of accepted sends."""

    async def main() -> None:
        fake, runner = await start_max_fake()
        fake.keep_requests = False  # only the count matters; keep memory flat
        pipe.send((fake.url, fake.token))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pipe.recv)
        pipe.send(fake.inbox.total)
        await runner.cleanup()

    asyncio.run(main())


def bodies(n: int) -> list[NewMessageBody]:
    """``n`` rendered bodies: a third with a keyboard (some with an image), the rest text."""
    out: list[NewMessageBody] = []
    for i in range(n):
        if i % 3:
            out.extend(render(Reply(text=f"Напоминание №{i}: завтра в 14:00")))
            continue
        reply = Reply(
            text=f"Выберите время, вариант {i}",
            buttons=(
                Button(id="t10", text="10:00"),
                Button(id="t12", text="12:00"),
                Button(id="t14", text="14:00"),
                Button(id="back", text="Назад"),
                Button(id="site", text="Сайт", url="https://example.com/booking"),
            ),
            request_phone=i % 9 == 0,
            image_url="https://example.com/salon.jpg" if i % 9 == 0 else None,
        )
        out.extend(render(reply))
    return out[:n]


async def run(client: MaxClient, work: list[NewMessageBody]) -> None:
    queue = iter(enumerate(work))

    async def worker() -> None:
        for i, body in queue:
            target = f"chat:{2_000_000 + i}" if i % 5 == 0 else str(1_000_000 + i)
            await client.send(target, body)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def bench(url: str, token: str, n: int, profile: bool) -> tuple[float, float]:
    client = MaxClient(
        token=token,
        api_url=url,
        limiter=ArrivalLimiter(1_000_000, 1.0),
        retry=RetryPolicy(attempts=1),
        timeout=15.0,
    )
    try:
        await run(client, bodies(WARMUP))
        work = bodies(n)
        profiler = cProfile.Profile() if profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        await run(client, work)
        if profiler is not None:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await client.close()
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return wall, cpu


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else SENDS
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=serve_fake, args=(child,), daemon=True)
    proc.start()
    try:
        url, token = parent.recv()
        wall, cpu = asyncio.run(bench(url, token, n, "--profile" in sys.argv))
        parent.send("stop")
        accepted = parent.recv()
    finally:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
    emit("sends", n)
    emit("sends_per_second", n / wall)
    emit("cpu_ms_per_send", cpu * 1000 / n)
    emit("fake_accepted", accepted - WARMUP)


if __name__ == "__main__":
    main()
