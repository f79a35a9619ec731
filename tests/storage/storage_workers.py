"""Code the concurrency and crash tests run in spawned OS processes (not a test module).

Each process has its own asyncio loop and its own Redis connection. ``drain`` is the small
worker the issue describes: lock, read the pending inbox in order, append each entry to a list
in the state, save (which marks the entry done), release.
"""

from __future__ import annotations

import asyncio

from flows.types import DialogState, Inbound, Reply, TextEvent
from storage.store import Store

GO_POLL = 0.005


async def drain(store: Store, customer: str) -> int:
    processed = 0
    async with store.states.lock(customer, wait=60) as lock:
        for entry_id, inbound in await store.inbox.pending(customer):
            state, version = await store.states.load(customer)
            seen = list((state or DialogState()).vars.get("seen") or [])  # type: ignore[arg-type]
            assert isinstance(inbound.event, TextEvent)
            seen.append([entry_id, inbound.event.text])
            new = DialogState(vars={"seen": seen})
            await store.states.save(customer, new, version=version, lock=lock, inbox_id=entry_id)
            processed += 1
    return processed


async def push_and_drain(store: Store, customer: str, tag: str, count: int) -> None:
    for i in range(count):
        text = f"{tag}-{i}"
        inbound = Inbound(channel="vk", user_id="1", event_id=text, event=TextEvent(text))
        await store.inbox.push(customer, inbound)
        await drain(store, customer)


async def _wait_for(store: Store, key: str) -> None:
    while not await store.redis.exists(key):
        await asyncio.sleep(GO_POLL)


async def _pusher(url: str, bot: str, customer: str, tag: str, tasks: int, count: int) -> None:
    store = Store.from_url(url, bot=bot)
    await store.ready()
    try:
        await store.redis.incr(f"{store.keys.prefix}test:ready")
        await _wait_for(store, f"{store.keys.prefix}test:go")
        await asyncio.gather(
            *(push_and_drain(store, customer, f"{tag}t{t}", count) for t in range(tasks))
        )
    finally:
        await store.close()


def pusher_process(url: str, bot: str, customer: str, tag: str, tasks: int, count: int) -> None:
    asyncio.run(_pusher(url, bot, customer, tag, tasks, count))


async def _hold_and_die(url: str, bot: str, customer: str, lock_ttl: float) -> None:
    store = Store.from_url(url, bot=bot)
    await store.ready()
    await store.states.locks.acquire(customer, ttl=lock_ttl)
    entry_id = await store.outbox.put(customer, "vk", "1", Reply("Запись подтверждена"))
    await store.redis.set(f"{store.keys.prefix}test:entry", entry_id)
    await asyncio.sleep(3600)  # "sending": the test SIGKILLs us here


def crashing_process(url: str, bot: str, customer: str, lock_ttl: float) -> None:
    asyncio.run(_hold_and_die(url, bot, customer, lock_ttl))
