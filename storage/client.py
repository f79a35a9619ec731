"""Connecting to Redis: URL schemes, retries with backoff, and the embedded server by default.

Supported ``SVYAZ_REDIS_URL`` forms:

* ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS; ``?ssl_cert_reqs=none`` etc.
  as redis-py understands them), ``unix:///path/redis.sock?db=0``;
* ``redis+sentinel://[:password@]host:port[,host:port...]/service[/db]`` — Redis Sentinel;
  the password is the master's, ``?sentinel_password=...`` is the sentinels' own;
* ``redis+cluster://[:password@]host:port[,host:port...]`` — Redis Cluster (keys are hash
  tagged per customer, see ``storage.keys``).
* no URL: ``storage.store.connect`` starts the embedded Redis (append-only persistence under
  ``data_dir``).

Dropped connections are retried by redis-py (exponential backoff); what still fails surfaces as
``StorageUnavailable``. A plain or unix URL gets a blocking pool: a burst beyond ``POOL_SIZE``
concurrent commands waits for a free connection (up to ``POOL_WAIT``) instead of failing with
redis-py's ``MaxConnectionsError`` while Redis is healthy. This module must not know about
customers or key names.
"""

from __future__ import annotations

from typing import Any, TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis  # a dependency through redis[hiredis]
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import (
    BlockingConnectionPool,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.exceptions import DataError, RedisError

from storage.errors import OPERATION_TIMEOUT, UNAVAILABLE_ERRORS, InvalidValue

RedisClient: TypeAlias = "Redis | RedisCluster"

RETRIES = 3
BACKOFF_BASE = 0.05
BACKOFF_CAP = 1.0
SOCKET_TIMEOUT = None  # deadlines come from storage.errors.guarded (see OPERATION_TIMEOUT)
CONNECT_TIMEOUT = 2.0
POOL_SIZE = 100  # connections per process; more concurrent commands queue for one
POOL_WAIT = OPERATION_TIMEOUT  # seconds a command waits for a free connection
SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"


def retry_policy() -> Retry:
    errors = tuple(e for e in UNAVAILABLE_ERRORS if issubclass(e, RedisError))
    return Retry(ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), RETRIES, errors)


def _common() -> dict[str, Any]:
    return {
        "retry": retry_policy(),
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": CONNECT_TIMEOUT,
    }


def _tcp() -> dict[str, Any]:
    return {**_common(), "socket_keepalive": True}


def hosts_of(netloc: str, default_port: int) -> tuple[str | None, list[tuple[str, int]]]:
    password = None
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        password = unquote(auth.split(":", 1)[1]) if ":" in auth else unquote(auth)
    hosts = []
    for part in netloc.split(","):
        host, _, port = part.rpartition(":") if ":" in part else (part, "", "")
        hosts.append((host or "127.0.0.1", int(port) if port else default_port))
    return password or None, hosts


def _sentinel(url: str) -> Redis:
    parts = urlsplit(url)
    password, hosts = hosts_of(parts.netloc, 26379)
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise InvalidValue("redis+sentinel URL needs a service name: .../<service>[/<db>]")
    query = parse_qs(parts.query)
    sentinel_kwargs: dict[str, Any] = {"socket_timeout": SOCKET_TIMEOUT}
    if "sentinel_password" in query:
        sentinel_kwargs["password"] = query["sentinel_password"][0]
    sentinel = Sentinel(hosts, sentinel_kwargs=sentinel_kwargs, **_tcp())
    db = int(path[1]) if len(path) > 1 else 0
    master: Redis = sentinel.master_for(path[0], password=password, db=db)
    return master


def _cluster(url: str) -> RedisCluster:
    password, hosts = hosts_of(urlsplit(url).netloc, 6379)
    nodes = [ClusterNode(host, port) for host, port in hosts]
    return RedisCluster(startup_nodes=nodes, password=password, **_tcp())


def scripts_span_slots(redis: RedisClient) -> bool:
    """Whether one Lua script may touch keys of several hash slots: on anything but a
    Redis Cluster. Callers fold cross-slot work into one script only then."""
    return not isinstance(redis, RedisCluster)


class _CPacked:
    """Commands packed by hiredis's C packer, as redis-py's own sync client does when hiredis is
    installed; its asyncio connections pack in Python (44 -> 6 µs for a hot-path script call,
    the same bytes). Mixed into redis-py's connection classes below."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):  # "CONFIG GET" and the like go as separate words
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:  # what redis-py's own encoder raises for a bool or None
            raise DataError(str(exc)) from exc


class _CPackedConnection(_CPacked, Connection):
    pass


class _CPackedUnixConnection(_CPacked, UnixDomainSocketConnection):
    pass


class _CPackedSSLConnection(_CPacked, SSLConnection):
    pass


_C_PACKED: dict[type[Any], type[Any]] = {
    Connection: _CPackedConnection,
    UnixDomainSocketConnection: _CPackedUnixConnection,
    SSLConnection: _CPackedSSLConnection,
}


def make_redis(url: str) -> RedisClient:
    """A redis.asyncio client (or cluster client) for ``url``; see the module docstring."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == SENTINEL_SCHEME:
        return _sentinel(url)
    if scheme == CLUSTER_SCHEME:
        return _cluster(url)
    if scheme not in ("redis", "rediss", "unix"):
        raise InvalidValue(f"unsupported Redis URL scheme {scheme!r}")
    options = _common() if scheme == "unix" else _tcp()
    pool = BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=POOL_WAIT,
                                           **options)
    pool.connection_class = _C_PACKED.get(pool.connection_class, pool.connection_class)
    return Redis.from_pool(pool)  # the client closes its pool


async def close_redis(client: RedisClient) -> None:
    """Close a client and, for Sentinel, the connections to the sentinels themselves."""
    await client.aclose()
    pool = getattr(client, "connection_pool", None)
    if isinstance(pool, SentinelConnectionPool):
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()
