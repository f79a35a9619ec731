"""Storage fixtures: a ``store`` on every backend — embedded, external (``REDIS_URL``) and a local
3-node Redis Cluster (Debian's ``redis-server``; skipped with a message when it is absent).

The cluster is started once per session on free loopback ports and always torn down.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from storage_helpers import cluster_client, free_ports

from bench.drills import cluster
from storage.client import make_redis
from storage.embedded import EmbeddedRedis
from storage.store import Store

CLUSTER_SERVER = "/usr/bin/redis-server"
CLUSTER_CLI = "/usr/bin/redis-cli"
CLUSTER_NODES = 3


def _external_url() -> str | None:
    return os.environ.get("SVYAZ_REDIS_URL") or os.environ.get("REDIS_URL") or None


def _store_backends() -> list[object]:
    backends: list[object] = ["embedded"]
    if _external_url():
        backends.append("external")
    backends.append(pytest.param("cluster", marks=pytest.mark.cluster))
    return backends


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[list[int]]:
    """Ports of a running 3-master Redis Cluster on 127.0.0.1 (bench/drills/cluster.py's)."""
    if not (os.access(CLUSTER_SERVER, os.X_OK) and os.access(CLUSTER_CLI, os.X_OK)):
        pytest.skip(f"Redis Cluster tests need Debian's {CLUSTER_SERVER} and {CLUSTER_CLI}")
    folder = Path(tempfile.mkdtemp(prefix="svyaz-cluster-"))
    ports = free_ports(CLUSTER_NODES, bus=True)
    try:
        with cluster.redis_cluster(folder, ports=ports):
            yield ports
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=_store_backends())
def any_url(request: pytest.FixtureRequest) -> str:
    """A Redis URL for each backend, the cluster as ``redis+cluster://`` (for subprocesses)."""
    if request.param == "cluster":
        ports = request.getfixturevalue("redis_cluster")
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    if request.param == "external":
        url = _external_url()
        assert url
        return url
    server: EmbeddedRedis = request.getfixturevalue("embedded_redis")
    return server.url


@pytest.fixture(params=_store_backends())
async def store(request: pytest.FixtureRequest, bot_prefix: str) -> AsyncIterator[Store]:
    """A ``Store`` in a fresh namespace; its keys are deleted afterwards."""
    if request.param == "cluster":
        client = cluster_client(request.getfixturevalue("redis_cluster"))
    elif request.param == "external":
        url = _external_url()
        assert url
        client = make_redis(url)
    else:
        server: EmbeddedRedis = request.getfixturevalue("embedded_redis")
        client = make_redis(server.url)
    store = Store(client, bot=bot_prefix, lock_wait=5.0)
    await store.ready()
    yield store
    async for key in client.scan_iter(match=f"{store.keys.prefix}*"):
        await client.delete(key)
    await store.close()
