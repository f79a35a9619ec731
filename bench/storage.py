"""Storage benchmark against the embedded Redis (ARCHITECTURE.md: ``name: value`` lines).

* ``roundtrips_per_second``: lock + load + save (+ release) of a mid-booking state, many
  customers at once from one Python process (one core); best of five windows, and the
  median as ``roundtrips_per_second_median`` (the machine may be shared);
* ``roundtrips_per_cpu_second``: the same work per second of this process's own CPU time
  (median) — what one core does when nobody else needs it; ``client_cpu_us_per_roundtrip``
  is its inverse (Redis itself spends ~10 us per round trip on the other core);
* ``customer_bytes``: Redis ``MEMORY USAGE`` of a typical mid-booking customer — state,
  identity (accounts + the account->customer keys) and profile (+ consent record);
* ``history_bytes_per_message``: stream memory per typical history message.

Targets (issue 3): >= 3000 round trips/s, < 2048 B per customer, < 300 B per message.
Runs in well under 20 s.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.types import DialogState, Frame  # noqa: E402
from storage.client import make_redis  # noqa: E402
from storage.embedded import EmbeddedRedis  # noqa: E402
from storage.history import HistoryEntry  # noqa: E402
from storage.store import Store  # noqa: E402
from tests.redeem import redeem_link_token  # noqa: E402

WINDOWS = 5  # best of five 1.2 s windows: the machine is shared, noise only slows us down
WINDOW = 1.2
CONCURRENCY = 16
MESSAGES = 2000

STATE = DialogState(
    stack=(Frame(f="booking", s="time"),),
    vars={"service": "Стрижка", "day": "2026-12-25", "master": "Анна"},
    consent=True,
)
TEXTS = (
    ("in", "Хочу записаться на стрижку", ()),
    ("out", "На какой день записать?", ("Сегодня", "Завтра", "Другой день")),
    ("in", "завтра", ()),
    ("out", "Во сколько удобно? Свободно: 10:00, 12:30, 15:00", ("10:00", "12:30", "15:00")),
)


async def _roundtrips(store: Store) -> list[tuple[float, float]]:
    """Per window: (round trips per wall-clock second, per second of this process's CPU)."""
    return [await _window(store) for _ in range(WINDOWS)]


async def _window(store: Store) -> tuple[float, float]:
    done = 0
    stop = time.perf_counter() + WINDOW

    async def worker(n: int) -> None:
        nonlocal done
        customer = f"bench{n}"
        while time.perf_counter() < stop:
            async with store.states.lock(customer) as lock:
                _, version = await store.states.load(customer)
                await store.states.save(customer, STATE, version=version, lock=lock)
            done += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
    return done / (time.perf_counter() - started), done / (time.process_time() - cpu)


async def _usage(store: Store, *keys: str) -> int:
    total = 0
    for key in keys:
        total += int(await store.redis.memory_usage(key, samples=0) or 0)
    return total


async def _customer_bytes(store: Store) -> int:
    customer = await store.identities.resolve("vk:123456789", name="Анна")
    token = await store.identities.issue_link_token(customer)
    await redeem_link_token(store.identities, token, "web:" + "s" * 22)
    await store.redis.delete(store.keys.links(customer))  # link bookkeeping is transient
    async with store.states.lock(customer) as lock:
        await store.states.save(customer, STATE, version=0, lock=lock)
    await store.profiles.set_field(customer, "phone", "+79991234567")
    await store.profiles.record_consent(customer, True, "pd-2026-01", datetime.now(UTC), "vk")
    k = store.keys
    return await _usage(
        store,
        k.state(customer),
        k.accounts(customer),
        k.account("vk:123456789"),
        k.account("web:" + "s" * 22),
        k.profile(customer),
        k.consents(customer),
        k.phone("+79991234567"),
    )


async def _history_bytes(store: Store) -> float:
    now = time.time()
    for i in range(MESSAGES):
        direction, text, buttons = TEXTS[i % len(TEXTS)]
        entry = HistoryEntry(now + i, "vk", direction, text, buttons)  # type: ignore[arg-type]
        await store.history.append("hist", entry)
    return await _usage(store, store.keys.history("hist")) / MESSAGES


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="svyaz-bench-") as folder:
        server = EmbeddedRedis(folder)
        url = await asyncio.to_thread(server.start)
        store = Store(make_redis(url), bot="bench")
        try:
            await store.ready()
            windows = await _roundtrips(store)
            customer = await _customer_bytes(store)
            history = await _history_bytes(store)
        finally:
            await store.close()
            await asyncio.to_thread(server.stop)
    wall = sorted(w for w, _ in windows)
    per_cpu = sorted(c for _, c in windows)[len(windows) // 2]
    print(f"roundtrips_per_second: {wall[-1]:.0f}")
    print(f"roundtrips_per_second_median: {wall[len(wall) // 2]:.0f}")
    print(f"roundtrips_per_cpu_second: {per_cpu:.0f}")
    print(f"client_cpu_us_per_roundtrip: {1e6 / per_cpu:.0f}")
    print(f"customer_bytes: {customer}")
    print(f"history_bytes_per_message: {history:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
