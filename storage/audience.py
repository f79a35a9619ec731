"""Reading every customer's segment facts in batches, for segments and broadcasts.

The customers are the ``customers`` set (every customer with an account), walked with SSCAN
so a large base is never read in one reply; per batch one pipeline reads, per customer (one
slot each), the accounts with their last activity, the consent records, the tags, the
profile's field names and the flows and steps reached (``storage.reached``). Choosing who
is in a segment is ``flows.segments``'s; this module must not decide it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from flows.segments import Facts
from storage.accounts import new_customer_id
from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keys import Keys
from storage.profile import Consent

BATCH = 500  # customers per SSCAN step and per pipeline


class Audience:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def batches(self, batch: int = BATCH) -> AsyncIterator[list[Facts]]:
        """Every customer's facts, a batch at a time (a customer added meanwhile may be
        missed, one never twice: SSCAN's guarantee for a set that only grows is weaker, so
        the ids of a walk are de-duplicated)."""
        seen: set[str] = set()
        cursor: int = 0
        while True:
            cursor, found = await self._scan(cursor, batch)
            fresh = [c for c in dict.fromkeys(text(m) for m in found) if c not in seen]
            seen.update(fresh)
            if fresh:
                yield await self.facts(fresh)
            if cursor == 0:
                return

    @guarded
    async def _scan(self, cursor: int, batch: int) -> tuple[int, list[Any]]:
        next_cursor, found = await self._redis.sscan(self._keys.customers, cursor, count=batch)
        return int(next_cursor), list(found)

    @guarded
    async def add_customer(self) -> str:
        """A new customer with no account yet (an imported one: SMS and e-mail reach it)."""
        customer = new_customer_id()
        await self._redis.sadd(self._keys.customers, customer)
        return customer

    @guarded
    async def facts(self, customers: Sequence[str]) -> list[Facts]:
        pipe = self._redis.pipeline(transaction=False)
        for customer in customers:
            pipe.zrevrange(self._keys.accounts(customer), 0, -1, withscores=True)
            pipe.lrange(self._keys.consents(customer), 0, -1)
            pipe.smembers(self._keys.tags(customer))
            pipe.hkeys(self._keys.profile(customer))
            pipe.zrange(self._keys.reached(customer), 0, -1)
        rows = await pipe.execute()
        return [_facts(c, rows[5 * i: 5 * i + 5]) for i, c in enumerate(customers)]


def _facts(customer: str, row: list[Any]) -> Facts:
    accounts, consents, tags, fields, reached = row
    latest: dict[str, bool] = {}
    for raw in consents:
        consent = Consent.model_validate_json(raw)
        latest[consent.what] = consent.granted
    return Facts(
        customer=customer,
        accounts=tuple((text(a), float(at)) for a, at in accounts),
        tags=frozenset(text(t) for t in tags),
        ads=latest.get("ads", False),
        personal_data=latest.get("personal_data", False),
        fields=frozenset(text(f) for f in fields),
        reached=frozenset(text(r) for r in reached),
    )
