"""Connecting: URL forms, the embedded Redis with persistence, 503-ready errors when down."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool
from storage_helpers import free_ports

from flows.errors import SvyazError
from flows.types import DialogState
from storage import errors
from storage.client import POOL_SIZE, close_redis, make_redis
from storage.embedded import EmbeddedRedis
from storage.errors import InvalidValue, StorageUnavailable
from storage.store import Store, connect, open_store

REDIS_SERVER = "/usr/bin/redis-server"


async def test_sentinel_url_builds_a_sentinel_managed_master_client() -> None:
    client = make_redis("redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2/mymaster/2")
    assert isinstance(client, Redis)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "mymaster"
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "pw"
    hosts = [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in pool.sentinel_manager.sentinels
    ]
    assert hosts == [("10.0.0.1", 26379), ("10.0.0.2", 26379)]
    await close_redis(client)


async def test_plain_tls_unix_and_cluster_urls() -> None:
    tls = make_redis("rediss://127.0.0.1:6380/1")
    assert isinstance(tls, Redis)
    assert tls.connection_pool.connection_kwargs["db"] == 1
    unix = make_redis("unix:///tmp/x.sock?db=3")
    assert unix.connection_pool.connection_kwargs["path"] == "/tmp/x.sock"  # type: ignore[union-attr]
    cluster = make_redis("redis+cluster://127.0.0.1:7101,127.0.0.1:7102")
    assert isinstance(cluster, RedisCluster)
    assert cluster.retry is not None
    for client in (tls, unix, cluster):
        await client.aclose()


@pytest.mark.parametrize("url", ["http://x", "memcached://x", "redis+sentinel://h:1"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidValue):
        make_redis(url)


async def test_embedded_by_default_and_data_survives_a_restart(tmp_path: Path) -> None:
    async with open_store(None, tmp_path / "data", bot="t") as store:
        lock = await store.states.locks.acquire("c1")
        await store.states.save("c1", DialogState(vars={"a": 1}), version=0, lock=lock)
    assert (tmp_path / "data" / "appendonly.aof").exists() or list(
        (tmp_path / "data").glob("appendonly*")
    )
    store, embedded = await connect(None, tmp_path / "data", bot="t")
    try:
        assert embedded is not None
        assert await store.states.load("c1") == (DialogState(vars={"a": 1}), 1)
    finally:
        await store.close()
        assert embedded is not None
        await asyncio.to_thread(embedded.stop)


async def test_redis_down_raises_storage_unavailable_then_recovers(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "r")
    await asyncio.to_thread(server.start)
    store = Store.from_url(server.url, bot="t")
    try:
        assert await store.identities.resolve("vk:1")
        await asyncio.to_thread(server.kill)
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as caught:
            await store.identities.resolve("vk:2")
        assert isinstance(caught.value, SvyazError)
        assert time.monotonic() - started < 5  # bounded retries with backoff, then 503
        with pytest.raises(StorageUnavailable):
            async with store.states.lock("c1"):
                pass
        await asyncio.to_thread(server.start)
        assert await store.identities.customer_of("vk:1")  # reconnects by itself
    finally:
        await store.close()
        await asyncio.to_thread(server.stop)


@pytest.fixture
def sentinel_url(tmp_path: Path) -> Iterator[str]:
    """A real Redis master watched by a real Sentinel (Debian's redis-server)."""
    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.skip(f"the Sentinel test needs Debian's {REDIS_SERVER}")
    master, sentinel = free_ports(2, base=18100)
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {sentinel}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor svyaz 127.0.0.1 {master} 1\n",
        encoding="utf-8",
    )
    common = ["--daemonize", "no", "--save", "", "--appendonly", "no"]
    procs = [
        subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(master),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(tmp_path),
                *common,
            ],
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen([REDIS_SERVER, str(conf), "--sentinel"], stdout=subprocess.DEVNULL),
    ]
    try:
        yield f"redis+sentinel://127.0.0.1:{sentinel}/svyaz/0"
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


async def test_sentinel_url_reaches_the_master(sentinel_url: str) -> None:
    store = Store.from_url(sentinel_url, bot="sentinel")
    try:
        for _ in range(100):  # the processes need a moment to listen
            with contextlib.suppress(StorageUnavailable):
                await store.ready()
                break
            await asyncio.sleep(0.05)
        customer = await store.identities.resolve("vk:1")
        assert await store.identities.customer_of("vk:1") == customer
        await store.forget(customer)
    finally:
        await store.close()


async def test_hung_redis_times_out_and_cancellation_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errors, "OPERATION_TIMEOUT", 0.3)
    server = EmbeddedRedis(tmp_path / "r")
    await asyncio.to_thread(server.start)
    store = Store.from_url(server.url, bot="t")
    pid = server._proc.pid  # type: ignore[union-attr]
    try:
        await store.identities.resolve("vk:1")
        os.kill(pid, signal.SIGSTOP)  # alive but not answering
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            await store.identities.customer_of("vk:1")
        assert time.monotonic() - started < 2
        task = asyncio.create_task(store.dedupe.first_seen("e1"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        os.kill(pid, signal.SIGCONT)
        assert await store.identities.customer_of("vk:1")
    finally:
        os.kill(pid, signal.SIGCONT)
        await store.close()
        await asyncio.to_thread(server.stop)


async def test_a_burst_beyond_the_pool_waits_instead_of_failing(redis_url: str) -> None:
    client = make_redis(redis_url)
    try:
        found = await asyncio.gather(*(client.ping() for _ in range(POOL_SIZE * 3)))
        assert all(found)
        assert isinstance(client, Redis)
        assert client.connection_pool.max_connections == POOL_SIZE
    finally:
        await client.aclose()


async def test_commands_are_packed_in_c_with_the_same_bytes_and_round_trip(
    redis_url: str,
) -> None:
    from redis.asyncio.connection import Connection
    from redis.exceptions import DataError

    client = make_redis(redis_url)
    try:
        conn_class = client.connection_pool.connection_class
        assert conn_class.__name__.startswith("_CPacked")
        args = ("EVALSHA", "ab" * 20, 2, "k:{c}:1", "k:{c}:2", 1732400000.123456, -7, "Мария",
                b"\x00\xff", "x" * 10_000, "\u263a")
        assert b"".join(conn_class().pack_command(*args)) == b"".join(
            Connection().pack_command(*args))
        key = f"test:pack:{os.getpid()}"
        for value in ("Мария \u263a", b"\x00\xff", 12, 0.1, "y" * 200_000):
            await client.set(key, value)
            expected = value.encode() if isinstance(value, str) else (
                value if isinstance(value, bytes) else str(value).encode())
            assert await client.get(key) == expected
        assert (await client.execute_command("CONFIG GET", "maxmemory"))  # split into words
        with pytest.raises(DataError):
            await client.set(key, True)  # type: ignore[arg-type]
        await client.delete(key)
    finally:
        await client.aclose()
