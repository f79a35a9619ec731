"""The key design on a real 3-node Redis Cluster (Debian's redis-server, loopback ports).

Every other storage test also runs here through the ``store`` fixture's ``cluster`` backend;
this module proves the environment is a real cluster (cross-slot scripts fail, customers spread
over the nodes) and runs one whole customer life across it.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from storage_helpers import cluster_client, key_slot, node_of

from flows.types import DialogState, Frame, Inbound, Reply, TextEvent
from storage.history import HistoryEntry
from storage.store import Store
from tests.redeem import redeem_link_token

pytestmark = pytest.mark.cluster


@pytest.fixture
async def cluster_store(redis_cluster: list[int], bot_prefix: str) -> AsyncIterator[Store]:
    store = Store(cluster_client(redis_cluster), bot=bot_prefix)
    await store.ready()
    yield store
    async for key in store.redis.scan_iter(match=f"{store.keys.prefix}*"):
        await store.redis.delete(key)
    await store.close()


async def test_it_is_a_real_cluster_that_refuses_cross_slot_scripts(cluster_store: Store) -> None:
    info = await cluster_store.redis.cluster_info()
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_known_nodes"]) == 3
    keys = cluster_store.keys
    a, b = next(
        (keys.state(f"x{i}"), keys.state(f"y{i}"))
        for i in range(100)
        if key_slot(keys.state(f"x{i}")) != key_slot(keys.state(f"y{i}"))
    )
    node = cluster_store.redis.get_node_from_key(a)
    assert node is not None
    direct = Redis(host=node.host, port=node.port)  # past redis-py's own client-side check
    try:
        with pytest.raises(ResponseError, match="same slot"):
            await direct.eval("return redis.call('MGET', KEYS[1], KEYS[2])", 2, a, b)
    finally:
        await direct.aclose()


async def test_customers_spread_over_nodes_each_on_one(cluster_store: Store) -> None:
    client = cluster_store.redis
    nodes_used = set()
    for i in range(12):
        customer = await cluster_store.identities.resolve(f"vk:{i}")
        await cluster_store.history.append(customer, HistoryEntry(1.0, "vk", "in", "hi"))
        await cluster_store.reminders.add(customer, "r")
        nodes = {
            node_of(client, k)
            for k in (
                cluster_store.keys.accounts(customer),
                cluster_store.keys.history(customer),
                cluster_store.keys.reminders(customer),
            )
        }
        assert len(nodes) == 1
        nodes_used |= nodes
    assert len(nodes_used) >= 2


async def test_a_whole_customer_life_on_the_cluster(cluster_store: Store) -> None:
    s = cluster_store
    web = await s.identities.resolve("web:s1", name="Аня")
    vk = await s.identities.resolve("vk:1")
    await s.history.append(web, HistoryEntry(1.0, "web", "in", "записаться"))
    await s.history.append(vk, HistoryEntry(2.0, "vk", "in", "привет"))
    entry = await s.inbox.push(web, Inbound("web", "s1", "e1", TextEvent("завтра")))
    async with s.states.lock(web) as lock:
        [(entry_id, _)] = await s.inbox.pending(web)
        assert entry_id == entry
        state = DialogState(stack=(Frame(f="booking", s="time"),), vars={"day": "2026-12-25"})
        await s.states.save(web, state, version=0, lock=lock, inbox_id=entry_id)
    await s.profiles.set_field(web, "phone", "+79991234567")
    await s.profiles.record_consent(web, True, "v1", datetime.now(UTC), "web")
    token = await s.identities.issue_link_token(web)
    assert await redeem_link_token(s.identities, token, "vk:1") == web  # merges vk's customer
    assert await s.profiles.find_by_phone("+79991234567") == web
    out = io.StringIO()
    assert await s.history.export(None, "jsonl", out) == 2
    assert [json.loads(x)["text"] for x in out.getvalue().splitlines()] == ["записаться", "привет"]
    await s.outbox.put(web, "vk", "1", Reply("Готово"))
    assert await s.forget(web) == []
    assert [k async for k in s.redis.scan_iter(match=f"{s.keys.prefix}*")] == []
    assert vk != web
