"""Helpers shared by the storage tests (not a test module)."""

from __future__ import annotations

import os
import socket

from redis.asyncio.cluster import ClusterNode, RedisCluster

from storage.store import Store
from tests.roundtrips import RoundTrips

__all__ = ["RoundTrips", "cluster_client", "free_ports", "namespace_keys", "node_of"]


async def namespace_keys(store: Store) -> list[str]:
    """Every key of the store's namespace, on every cluster node."""
    found = [k async for k in store.redis.scan_iter(match=f"{store.keys.prefix}*")]
    return sorted(k.decode() if isinstance(k, bytes) else k for k in found)


def node_of(client: object, key: str) -> str:
    """The name (``host:port``) of the cluster node holding ``key``."""
    assert isinstance(client, RedisCluster), client
    node = client.get_node_from_key(key)
    assert node is not None, key
    return str(node.name)


def cluster_client(ports: list[int]) -> RedisCluster:
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports])


def crc16(data: bytes) -> int:
    """CRC16/XMODEM, the checksum Redis Cluster uses for key slots."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key: str) -> int:
    """The Redis Cluster slot of ``key`` (hash tag rule: first ``{...}`` with content)."""
    raw = key.encode()
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return crc16(raw) % 16384


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, base: int = 17100, bus: bool = False) -> list[int]:
    """``count`` free loopback ports (and ``port + 10000`` free too when ``bus``)."""
    ports: list[int] = []
    start = base + (os.getpid() % 500) * 7
    for port in range(start, start + 2000):
        if port_free(port) and (not bus or port_free(port + 10000)):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError("no free loopback ports")


# A script that keeps Redis busy for ARGV[1] ms: a stall, during which no other command runs.
BUSY_LUA = """
local t = redis.call('TIME')
local until_us = t[1] * 1000000 + t[2] + ARGV[1] * 1000
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= until_us
return 1
"""
