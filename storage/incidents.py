"""Incidents: bot-wide troubles the owner must hear of once, and the desk shows while open.

A channel whose token stopped working, the SMS balance or budget run out, Redis near its
memory limit: each is one field of one hash (``Keys.incidents``), opened with ``HSETNX`` so
that of several processes noticing the same trouble exactly one tells the owner, and closed
with ``HDEL`` so exactly one says it is over. No customer data: a kind and a plain detail.

This module must not decide what is an incident nor tell anyone (``bots.incidents``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keys import Keys


@dataclass(frozen=True, slots=True)
class Incident:
    kind: str  # "channel:vk", "sms:balance", "redis:memory", ...
    detail: str
    since: float


class Incidents:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def open(self, kind: str, detail: str, now: float) -> bool:
        """Open ``kind``; True only for the caller that opened it (tell the owner then)."""
        record = json.dumps({"detail": detail, "since": now}, ensure_ascii=False)
        return bool(await self._redis.hsetnx(self._keys.incidents, kind, record))

    @guarded
    async def close(self, kind: str) -> bool:
        """Close ``kind``; True only for the caller that closed it."""
        return bool(await self._redis.hdel(self._keys.incidents, kind))

    @guarded
    async def memory(self) -> tuple[int, int]:
        """Redis's used memory and its ``maxmemory`` (0: no limit), in bytes."""
        info: Any = await self._redis.info("memory")
        return int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))

    @guarded
    async def current(self) -> list[Incident]:
        """The open incidents, oldest first."""
        rows: Any = await self._redis.hgetall(self._keys.incidents)
        found = []
        for kind, raw in rows.items():
            data = json.loads(raw)
            found.append(Incident(text(kind), str(data["detail"]), float(data["since"])))
        return sorted(found, key=lambda incident: (incident.since, incident.kind))
