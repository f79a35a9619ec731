"""Blocking Redis clients for the parts that need one (APScheduler's ``RedisJobStore``, which
runs its calls in the scheduler's thread), for every ``SVYAZ_REDIS_URL`` form
``storage.client`` accepts: a plain server, Redis Sentinel and Redis Cluster.

redis-py's ``ConnectionPool.from_url`` knows only ``redis://``, ``rediss://`` and ``unix://``;
the two ``redis+`` schemes are built here from the same URL parsing as the async clients.
This module must not know about customers or key names.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis as redis_sync
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from storage.client import CLUSTER_SCHEME, CONNECT_TIMEOUT, SENTINEL_SCHEME, hosts_of
from storage.errors import InvalidValue

SyncRedis = redis_sync.Redis | RedisCluster


def _options() -> dict[str, Any]:
    return {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_keepalive": True}


def make_sync_redis(url: str) -> SyncRedis:
    """A blocking client for ``url`` (see ``storage.client``'s docstring for the forms)."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == CLUSTER_SCHEME:
        password, hosts = hosts_of(urlsplit(url).netloc, 6379)
        nodes = [ClusterNode(h, p) for h, p in hosts]  # type: ignore[no-untyped-call]
        return RedisCluster(startup_nodes=nodes,
                            password=password, **_options())
    if scheme == SENTINEL_SCHEME:
        parts = urlsplit(url)
        password, hosts = hosts_of(parts.netloc, 26379)
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise InvalidValue("redis+sentinel URL needs a service name: .../<service>[/<db>]")
        query = parse_qs(parts.query)
        sentinel_kwargs = ({"password": query["sentinel_password"][0]}
                           if "sentinel_password" in query else {})
        sentinel = Sentinel(hosts, sentinel_kwargs=sentinel_kwargs, **_options())
        db = int(path[1]) if len(path) > 1 else 0
        master: redis_sync.Redis = sentinel.master_for(path[0], password=password, db=db)
        return master
    if scheme not in ("redis", "rediss", "unix"):
        raise InvalidValue(f"unsupported Redis URL scheme {scheme!r}")
    return redis_sync.Redis.from_url(url)


def close_sync_redis(client: SyncRedis) -> None:
    """Drop the client's connections (a cluster client: to every node)."""
    if isinstance(client, RedisCluster):
        client.close()
    else:
        client.connection_pool.disconnect()
