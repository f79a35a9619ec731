"""A process SIGKILLed while holding a customer's lock with an un-acknowledged outbox entry:
another process takes over after the lock expires and the message is sent exactly once."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest
from storage_workers import crashing_process

from storage.client import make_redis
from storage.errors import LockTimeout
from storage.outbox import OutboxEntry
from storage.store import Store
from tests.held import holds

LOCK_TTL = 1.0
STALE_MS = 500


async def _send(store: Store, entry: OutboxEntry) -> None:
    """The platform fake: counts deliveries per message key."""
    await store.redis.incr(f"{store.keys.prefix}test:sent:{entry.id}")


async def _sweeper(store: Store) -> int:
    sent = 0
    for entry in await store.outbox.claim_stale(STALE_MS):
        await _send(store, entry)
        await store.outbox.ack(entry.id)
        sent += 1
    return sent


async def _entry_of_child(store: Store, proc: multiprocessing.process.BaseProcess) -> str:
    key = f"{store.keys.prefix}test:entry"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.is_alive():
        found = await store.redis.get(key)
        if found:
            return found.decode() if isinstance(found, bytes) else found
        await asyncio.sleep(0.01)
    raise AssertionError("the child never put its outbox entry")


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_killed_holder_is_taken_over_and_message_sent_once(
    any_url: str, bot_prefix: str
) -> None:
    store = Store(make_redis(any_url), bot=bot_prefix)
    await store.ready()
    proc = multiprocessing.get_context("spawn").Process(
        target=crashing_process, args=(any_url, bot_prefix, "c1", LOCK_TTL)
    )
    try:
        proc.start()
        entry_id = await _entry_of_child(store, proc)
        proc.kill()  # SIGKILL: no finally blocks, no lock release, no ack
        await asyncio.to_thread(proc.join, 10)
        assert proc.exitcode == -9

        with pytest.raises(LockTimeout):  # still held by the dead process
            await store.states.locks.acquire("c1", wait=0.05)
        assert await store.outbox.claim_stale(60_000) == []  # not stale for a long lease

        async with store.states.lock("c1", wait=5) as lock:  # free once the TTL ran out
            assert await holds(store, lock)
            await asyncio.sleep(STALE_MS / 1000)
            results = await asyncio.gather(*(_sweeper(store) for _ in range(4)))
        assert sorted(results) == [0, 0, 0, 1]
        await asyncio.sleep(STALE_MS / 1000 + 0.1)
        assert await _sweeper(store) == 0  # acknowledged: never again
        sent = await store.redis.get(f"{store.keys.prefix}test:sent:{entry_id}")
        assert int(sent or 0) == 1
        assert await store.outbox.pending() == []
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
        async for key in store.redis.scan_iter(match=f"{store.keys.prefix}*"):
            await store.redis.delete(key)
        await store.close()
