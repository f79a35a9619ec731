"""Blocking clients for APScheduler's job store (``storage.sync_client``): every URL form the
async clients take, and reminders scheduled, fired and shut down on a real 3-node Redis
Cluster (a ``redis+cluster://`` URL used to stop ``svyaz run`` at start-up)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.cluster import RedisCluster
from storage_helpers import cluster_client

from bots.metrics import Metrics
from bots.scheduler import ReminderService
from flows.types import Event, ScheduleReminder
from storage.errors import InvalidValue
from storage.store import Store
from storage.sync_client import close_sync_redis, make_sync_redis


def test_plain_urls_and_unknown_schemes() -> None:
    client = make_sync_redis("redis://127.0.0.1:1/3")
    assert client.connection_pool.connection_kwargs["db"] == 3  # type: ignore[union-attr]
    close_sync_redis(client)
    with pytest.raises(InvalidValue, match="scheme"):
        make_sync_redis("memcached://127.0.0.1")
    with pytest.raises(InvalidValue, match="service name"):
        make_sync_redis("redis+sentinel://127.0.0.1:26379")


@pytest.mark.cluster
async def test_reminders_fire_and_stop_on_a_redis_cluster(redis_cluster: list[int],
                                                          bot_prefix: str) -> None:
    url = "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in redis_cluster)
    assert isinstance(make_sync_redis(url), RedisCluster)
    store = Store(cluster_client(redis_cluster), bot=bot_prefix)
    await store.ready()
    fired: list[tuple[str, Event]] = []

    async def inject(customer: str, event: Event, **_: object) -> bool:
        fired.append((customer, event))
        return True

    service = ReminderService(store=store, redis_url=url, metrics=Metrics(), inject=inject,
                              zone=UTC)
    await service.start()
    try:
        customer = await store.identities.resolve("max:77")
        soon = datetime.now(UTC) + timedelta(seconds=1)
        await service.schedule(customer, ScheduleReminder(key="k", at=soon, flow="ping"))
        for _ in range(200):
            if fired:
                break
            await asyncio.sleep(0.05)
        assert [c for c, _ in fired] == [customer]
    finally:
        await service.stop()  # the job store shuts down on the cluster client too
        async for key in store.redis.scan_iter(match=f"{store.keys.prefix}*"):
            await store.redis.delete(key)
        await store.close()
