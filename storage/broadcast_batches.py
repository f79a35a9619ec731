"""The claims of the members of a VK batch (``bots.broadcast_vk``): like ``Broadcasts.claim``,
the claim and the outbox entry are written together, and the claim's value names the batch, so
a copy claimed before tells which batch it went with; a claim nothing was sent for can be given
back with its entry.

A batch's members (customer -> peer) are one record of the batch, written before its claims,
so that each member's outbox entry names only its own peer (nothing of another customer lives
in one's entry) and a re-send finds the rest there. Erasing a customer takes them out of the
records of the batches their claims name (``forget``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.broadcast_scripts import CLAIM_TTL, ClaimMember, Unclaim
from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keyparts import broadcast_batch, broadcast_claim
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
        return None if isinstance(found, int) else _batch_of(text(found))

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
        return [_batch_of(text(value)) if value else "" for value in await pipe.execute()]

    @guarded
    async def record(self, broadcast: str, batch: str,
                     members: Sequence[tuple[str, str]]) -> None:
        """Write batch ``batch``'s members, (customer, peer) pairs in the request's order,
        before their claims."""
        key = broadcast_batch(self._keys.prefix, broadcast, batch)
        pipe = self._redis.pipeline(transaction=True)  # one slot
        pipe.hset(key, mapping={c: f"{i} {p}" for i, (c, p) in enumerate(members)})
        pipe.expire(key, CLAIM_TTL)
        await pipe.execute()

    @guarded
    async def peers_with(self, broadcast: str, batch: str) -> tuple[str, ...]:
        """The peers of batch ``batch`` whose copies are still claimed with it, in the order
        of the batch's request (the same request again)."""
        found: Any = await self._redis.hgetall(broadcast_batch(self._keys.prefix, broadcast,
                                                               batch))
        members = sorted((int(at), c, p) for c, (at, _, p) in
                         ((text(c), text(v).partition(" ")) for c, v in found.items()))
        claimed = await self.batches(broadcast, [c for _, c, _ in members])
        return tuple(p for (_, _, p), b in zip(members, claimed, strict=True) if b == batch)

    @guarded
    async def forget(self, broadcast: str, customer: str) -> None:
        """Take ``customer`` out of the record of the batch their copy was claimed with (the
        claim itself goes with the customer's keys)."""
        (batch,) = await self.batches(broadcast, [customer])
        if batch:
            await self._redis.hdel(broadcast_batch(self._keys.prefix, broadcast, batch),
                                   customer)


def _batch_of(claim: str) -> str:
    """The batch a claim's value ("<entry> <batch>") names ("": a copy sent alone)."""
    return claim.partition(" ")[2]
