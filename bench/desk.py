"""The operator desk with many customers: how long the conversation list and a conversation
page take to render (issue 15's target: 10,000 customers, 1,000,000 history messages, both
pages within 100 ms at p95).

Seeds the embedded Redis (a temporary folder) with ``--customers`` customers holding
``--messages`` history messages between them (1 % waiting for a person), serves the wired
app in-process, logs in as an operator and times ``GET /desk/``, ``GET /desk/c/<id>`` and
the "waiting" filter ``GET /desk/?state=waiting`` over HTTP on loopback. Ends with
``name: value`` lines (milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from bots.app import EDGE, build_app  # noqa: E402
from bots.config import Settings  # noqa: E402
from bots.desk.passwords import hash_password  # noqa: E402
from flows.types import DialogState, Frame  # noqa: E402
from storage.embedded import EmbeddedRedis  # noqa: E402
from storage.history import HistoryEntry  # noqa: E402
from storage.store import Store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BATCH = 2000


async def seed(store: Store, customers: int, messages: int) -> list[str]:
    keys, redis, ids = store.keys, store.redis, []
    per = max(1, messages // customers)
    now = time.time()
    for start in range(0, customers, BATCH // 4):
        pipe = redis.pipeline(transaction=False)
        for n in range(start, min(customers, start + BATCH // 4)):
            customer = f"bench{n:07d}"
            ids.append(customer)
            pipe.set(keys.account(f"web:s{n}"), customer)
            pipe.sadd(keys.customers, customer)
            pipe.zadd(keys.accounts(customer), {f"web:s{n}": now - n})
            pipe.zadd(keys.desk_active, {customer: now - n})  # as each accept writes it
            pipe.hset(keys.profile(customer), mapping={"name": f"Клиент {n}",
                                                       "phone": f"+7916{n:07d}"})
            stage = "waiting" if n % 100 == 0 else None
            state = DialogState(stack=(Frame(f="booking", s="day"),), handoff=stage)
            pipe.hset(keys.state(customer), mapping={
                "v": 1, "d": state.model_dump_json(by_alias=True, exclude_defaults=True)})
            if stage:
                pipe.zadd(keys.desk_waiting, {customer: now - n})
        await pipe.execute()
    for customer in ids:
        pipe = redis.pipeline(transaction=False)
        for m in range(per):
            entry = HistoryEntry(now - 86400 + m, "web", "in" if m % 2 else "out",
                                 f"Сообщение номер {m}: хочу записаться на стрижку")
            pipe.xadd(keys.history(customer), entry.to_fields())
        await pipe.execute()
    return ids


async def timed(client: TestClient, path: str, runs: int) -> list[float]:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        resp = await client.get(path)
        await resp.read()
        assert resp.status == 200, resp.status
        took.append((time.perf_counter() - started) * 1000)
    return took


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis", maxmemory="2gb")
        url = redis.start()
        try:
            settings = Settings(_env_file=None, redis_url=url, bot="bench",  # type: ignore[call-arg]
                                flows=ROOT / "flows_examples", data_dir=Path(tmp) / "data")
            app = build_app(settings)
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                store = app[EDGE].parts.store
                started = time.perf_counter()
                ids = await seed(store, args.customers, args.messages)
                print(f"# seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
                await store.desk.operators.add("bench", hash_password("bench-password"),
                                               "operator")
                page = await (await client.get("/desk/login")).text()
                token = re.search(r'name="csrf" value="([^"]*)"', page)
                assert token
                await client.post("/desk/login", data={
                    "name": "bench", "password": "bench-password", "csrf": token.group(1)})
                listed = await timed(client, "/desk/", args.runs)
                card = await timed(client, f"/desk/c/{ids[len(ids) // 2]}", args.runs)
                waiting = await timed(client, "/desk/?state=waiting", args.runs)
        finally:
            redis.stop()
    print(f"customers: {args.customers}")
    print(f"history_messages: {args.messages}")
    print(f"list_ms_p50: {statistics.median(listed):.1f}")
    print(f"list_ms_p95: {p95(listed):.1f}")
    print(f"conversation_ms_p50: {statistics.median(card):.1f}")
    print(f"conversation_ms_p95: {p95(card):.1f}")
    print(f"waiting_list_ms_p95: {p95(waiting):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
