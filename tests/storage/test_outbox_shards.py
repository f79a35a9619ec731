"""The outbox spread over shards (``{outbox:<n>}``): on a 3-node Redis Cluster the replies of
many customers land on every node, and the guarantees hold across shards on every backend —
each entry re-sent by exactly one process, a customer's entries in the order written, a
restarted process inheriting its own, and the entries older versions wrote still swept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from storage_helpers import cluster_client, node_of

from flows.types import Reply
from storage.outbox import OutboxEntry, Prepared, every_shard, shard_in, shard_of
from storage.store import Store

CUSTOMERS = [f"cust{n}" for n in range(24)]


@pytest.fixture
async def cluster_store(redis_cluster: list[int], bot_prefix: str) -> AsyncIterator[Store]:
    store = Store(cluster_client(redis_cluster), bot=bot_prefix)
    await store.ready()
    yield store
    async for key in store.redis.scan_iter(match=f"{store.keys.prefix}*"):
        await store.redis.delete(key)
    await store.close()


@pytest.mark.cluster
async def test_the_replies_of_many_customers_spread_over_every_node(cluster_store: Store) -> None:
    client = cluster_store.redis
    nodes: set[str] = set()
    for customer in CUSTOMERS:
        entry_id = await cluster_store.outbox.put(customer, "vk", "1", Reply("привет"))
        keys = cluster_store.outbox.keys_of(entry_id)
        assert shard_in(entry_id) == shard_of(customer)
        assert len({node_of(client, k) for k in keys}) == 1
        nodes.add(node_of(client, keys.data))
    assert len(nodes) == 3  # one {outbox} tag would have put all of them on one node
    assert len(await cluster_store.outbox.pending()) == len(CUSTOMERS)


async def test_a_dead_writers_entries_go_once_each_in_order_per_customer(store: Store) -> None:
    dead = Store(store.redis, bot=store.keys.bot, instance="0000dead0001")
    for n in range(3):
        for customer in CUSTOMERS:
            await dead.outbox.put(customer, "max", "1", Reply(str(n)))
    await _age_every_lease(store)
    claimers = [Store(store.redis, bot=store.keys.bot, instance=f"0000live000{i}")
                for i in range(4)]

    async def sweep(claimer: Store) -> list[OutboxEntry]:
        taken: list[OutboxEntry] = []
        while batch := await claimer.outbox.claim_stale(60_000, count=10):
            taken += batch
            for entry in batch:
                await claimer.outbox.ack(entry.id)
        return taken

    swept = await asyncio.gather(*(sweep(c) for c in claimers))
    every = [entry for taken in swept for entry in taken]
    assert len(every) == len({e.id for e in every}) == 3 * len(CUSTOMERS)  # none twice
    assert {e.claims for e in every} == {1}
    for customer in CUSTOMERS:  # one shard per customer: whoever took which of its entries,
        for taken in swept:  # each took them in the order they were written
            theirs = [e.reply.text for e in taken if e.customer == customer]
            assert theirs == sorted(theirs)
    assert await store.outbox.pending() == []


async def _age_every_lease(store: Store, hours: int = 1) -> None:
    """As when the writer died an hour ago (no sleeping)."""
    for keys in every_shard(store.keys):
        leases = await store.redis.zrange(keys.lease, 0, -1, withscores=True)
        if leases:
            await store.redis.zadd(keys.lease, {m: s - hours * 3_600_000 for m, s in leases})


async def test_a_restarted_process_inherits_its_entries_from_every_shard(store: Store) -> None:
    before = Store(store.redis, bot=store.keys.bot, instance="0000cafe0001")
    written = {await before.outbox.put(c, "vk", "1", Reply("ждёт")) for c in CUSTOMERS}
    assert len({shard_in(i) for i in written}) > 1
    other = await Store(store.redis, bot=store.keys.bot, instance="0000beef0001").outbox.put(
        "someone", "vk", "2", Reply("чужое"))
    again = Store(store.redis, bot=store.keys.bot, instance="0000cafe0001")
    assert {e.id for e in await again.outbox.inherit()} == written
    assert await again.outbox.inherit() == []
    assert {e.id for e in await store.outbox.pending()} == written | {other}


async def test_entries_an_older_version_wrote_are_still_swept_and_acknowledged(
    store: Store,
) -> None:
    prepared = store.outbox.prepare("c1", "vk", "1", Reply("из старой версии"))
    old_id = prepared.id.rpartition("-")[0]  # ``<ms>-<name>-<random>``: no shard
    assert shard_in(old_id) is None
    await store.outbox.put_prepared([Prepared(old_id, prepared.json)])
    assert await store.redis.hexists(store.keys.outbox(None).data, old_id)
    await _age_every_lease(store)
    [entry] = await store.outbox.claim_stale(60_000)
    assert (entry.id, entry.reply.text) == (old_id, "из старой версии")
    assert await store.outbox.ack(old_id)
    assert await store.outbox.pending() == []
