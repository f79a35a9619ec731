"""The claims of the members of a VK batch (``bots.broadcast_vk``): like ``Broadcasts.claim``,
the claim and the outbox entry are written together, and the claim's value names the batch, so
a copy claimed before tells which batch it went with; a claim nothing was sent for can be given
back with its entry."""

from __future__ import annotations

from collections.abc import Sequence

from storage.broadcast_scripts import ClaimMember, Unclaim
from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keyparts import broadcast_claim
from storage.keys import Keys
from storage.outbox import Prepared, shard_in, shard_of
from storage.scripts import runner


class Members:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._claim_member = runner(redis, ClaimMember)
        self._unclaim = runner(redis, Unclaim)

    @guarded
    async def claim(self, broadcast: str, customer: str, entry: Prepared,
                    batch: str) -> str | None:
        """``Broadcasts.claim`` of a member of batch ``batch``: None when taken now, else the
        batch the copy was taken with before ("" when not in a batch)."""
        shard = shard_in(entry.id)
        claim = broadcast_claim(self._keys.prefix, broadcast, customer, shard or 0)
        found = await self._claim_member(ClaimMember.of(self._keys.outbox(shard), claim,
                                                        entry.id, entry.json, batch))
        return None if isinstance(found, int) else text(found).partition(" ")[2]

    @guarded
    async def unclaim(self, broadcast: str, customer: str, entry_id: str, batch: str) -> None:
        """Give back a ``claim_member`` nothing was sent for (the customer stays queued)."""
        shard = shard_in(entry_id)
        claim = broadcast_claim(self._keys.prefix, broadcast, customer, shard or 0)
        await self._unclaim(Unclaim.of(self._keys.outbox(shard), claim, entry_id, batch))

    @guarded
    async def taken(self, broadcast: str, customers: Sequence[str]) -> list[bool]:
        """Whether each of ``customers`` has its copy claimed already (one round trip)."""
        pipe = self._redis.pipeline(transaction=False)  # (the shards' slots differ)
        for customer in customers:
            pipe.exists(broadcast_claim(self._keys.prefix, broadcast, customer,
                                        shard_of(customer)))
        return [bool(found) for found in await pipe.execute()]

    @guarded
    async def batches(self, broadcast: str, customers: Sequence[str]) -> list[str]:
        """The batch each of ``customers``' copies is claimed with ("": none, or not in one)."""
        pipe = self._redis.pipeline(transaction=False)
        for customer in customers:
            pipe.get(broadcast_claim(self._keys.prefix, broadcast, customer, shard_of(customer)))
        return [text(value).partition(" ")[2] if value else "" for value in await pipe.execute()]
