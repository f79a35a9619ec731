"""Claims of reminder ticks: who fires one reminder at one due time.

This module owns the claim keys (``Keys.reminder_claim``: the customer's slot, one per
reminder key and due time). A claim is ``SET NX`` with a TTL longer than any retry of that
tick, so two processes that both think they lead still deliver a tick once; a firing that
could not hand the tick over releases it for a retry. It must not decide whether a tick is
delivered or missed (``bots.scheduler`` does).
"""

from __future__ import annotations

from storage.client import RedisClient
from storage.errors import guarded
from storage.keys import REMINDER_CLAIM_TTL, Keys


class Ticks:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def claim(self, customer: str, key: str, due: str) -> bool:
        """True for the one caller that claims reminder ``key`` of ``customer`` due at ``due``."""
        claim = self._keys.reminder_claim(customer, key, due)
        return bool(await self._redis.set(claim, "1", nx=True, ex=REMINDER_CLAIM_TTL))

    @guarded
    async def release(self, customer: str, key: str, due: str) -> None:
        """Free a claimed tick that was not handed over, so a retry can claim it."""
        await self._redis.delete(self._keys.reminder_claim(customer, key, due))
