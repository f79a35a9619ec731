"""Helpers shared by the storage tests (not a test module)."""

from __future__ import annotations

from redis.asyncio.cluster import ClusterNode, RedisCluster

from storage.store import Store


async def namespace_keys(store: Store) -> list[str]:
    """Every key of the store's namespace, on every cluster node."""
    found = [k async for k in store.redis.scan_iter(match=f"{store.keys.prefix}*")]
    return sorted(k.decode() if isinstance(k, bytes) else k for k in found)


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
