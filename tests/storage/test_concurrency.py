"""200 messages of one customer from 4 asyncio tasks and 2 OS processes: all processed, in
inbox order, none lost, none twice (STYLE.md point 9)."""

from __future__ import annotations

import asyncio
import multiprocessing

import pytest
from storage_workers import push_and_drain, pusher_process

from storage.client import make_redis
from storage.store import Store

TASKS, PER_TASK = 4, 25  # this process: 100 messages
PROCS, PROC_TASKS, PER_PROC_TASK = 2, 2, 25  # two more processes: 100 messages


def _order(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_two_hundred_messages_in_order_none_lost_none_twice(
    any_url: str, bot_prefix: str
) -> None:
    store = Store(make_redis(any_url), bot=bot_prefix)
    await store.ready()
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=pusher_process,
            args=(any_url, bot_prefix, "c1", f"p{n}", PROC_TASKS, PER_PROC_TASK),
        )
        for n in range(PROCS)
    ]
    try:
        for proc in procs:
            proc.start()
        ready = f"{store.keys.prefix}test:ready"
        for _ in range(3000):  # spawned interpreters need a moment to import
            if int(await store.redis.get(ready) or 0) == PROCS:
                break
            await asyncio.sleep(0.01)
        await store.redis.set(f"{store.keys.prefix}test:go", 1)
        await asyncio.gather(
            *(push_and_drain(store, "c1", f"m{t}", PER_TASK) for t in range(TASKS))
        )
        for proc in procs:
            await asyncio.to_thread(proc.join, 90)
            assert proc.exitcode == 0

        state, version = await store.states.load("c1")
        assert state is not None
        seen = state.vars["seen"]
        assert isinstance(seen, list)
        ids = [str(item[0]) for item in seen]  # type: ignore[index]
        texts = [str(item[1]) for item in seen]  # type: ignore[index]
        expected = {f"m{t}-{i}" for t in range(TASKS) for i in range(PER_TASK)} | {
            f"p{n}t{t}-{i}"
            for n in range(PROCS)
            for t in range(PROC_TASKS)
            for i in range(PER_PROC_TASK)
        }
        assert len(texts) == 200 == len(set(texts))  # none twice
        assert set(texts) == expected  # none lost
        assert ids == sorted(ids, key=_order)  # in inbox order
        assert len(set(ids)) == 200
        assert version == 200
        assert await store.inbox.pending("c1") == []
        for n in range(PROCS):  # each sender's own messages kept their sending order
            for t in range(PROC_TASKS):
                mine = [x for x in texts if x.startswith(f"p{n}t{t}-")]
                assert mine == [f"p{n}t{t}-{i}" for i in range(PER_PROC_TASK)]
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
        async for key in store.redis.scan_iter(match=f"{store.keys.prefix}*"):
            await store.redis.delete(key)
        await store.close()
