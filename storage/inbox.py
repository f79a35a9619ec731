"""The per-customer inbox: accepted ``Inbound`` events waiting to be processed, in order.

An event is pushed (durable once ``push`` returns) before any processing; the worker that holds
the customer's lock reads ``pending`` in arrival order (stream id order) and marks each one
done — ideally atomically with the state save (``States.save(..., inbox_id=...)``). Processed
entries are deleted, so the stream only ever holds pending work. A global set lists customers
with pending entries for a sweeper after a crash.

This module must not process events or take locks itself.
"""

from __future__ import annotations

import logging

from flows.types import Inbound
from storage.client import RedisClient
from storage.codec import decode_inbound, encode_inbound, stream_rows, text
from storage.errors import CodecError, guarded
from storage.keys import Keys

log = logging.getLogger("svyaz.storage")

# KEYS: inbox. ARGV: entry id. Deletes the entry (and the stream once empty); returns remaining.
DONE_LUA = """
redis.call('XDEL', KEYS[1], ARGV[1])
local n = redis.call('XLEN', KEYS[1])
if n == 0 then redis.call('DEL', KEYS[1]) end
return n
"""

FIELD = "j"


class Inbox:
    """Pending inbound events per customer."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._done = redis.register_script(DONE_LUA)

    @guarded
    async def push(self, customer: str, inbound: Inbound) -> str:
        key = self._keys.inbox(customer)
        entry_id = await self._redis.xadd(key, {FIELD: encode_inbound(inbound)})
        await self._redis.sadd(self._keys.pending, customer)
        return text(entry_id)

    @guarded
    async def pending(
        self, customer: str, *, count: int | None = None
    ) -> list[tuple[str, Inbound]]:
        """Unprocessed entries in arrival order, as ``(entry id, inbound)``.

        An entry that no longer decodes (written by an incompatible version) is logged and
        dropped, so it cannot block the customer's inbox forever.
        """
        rows = stream_rows(await self._redis.xrange(self._keys.inbox(customer), count=count))
        found = []
        for entry_id, fields in rows:
            try:
                found.append((entry_id, decode_inbound(fields.get(FIELD, "{}"))))
            except CodecError as exc:
                log.error("dropping undecodable inbox entry %s of %s: %s", entry_id, customer, exc)
                await self.done(customer, entry_id)
        return found

    @guarded
    async def done(self, customer: str, entry_id: str) -> None:
        remaining = await self._done(keys=[self._keys.inbox(customer)], args=[entry_id])
        await self.settle(customer, int(remaining))

    async def settle(self, customer: str, remaining: int) -> None:
        """Keep the pending set honest after entries were removed (push may race with us)."""
        if remaining > 0:
            return
        await self._redis.srem(self._keys.pending, customer)
        # A push between our XLEN and SREM re-adds itself only if it ran SADD after us.
        if await self._redis.exists(self._keys.inbox(customer)):
            await self._redis.sadd(self._keys.pending, customer)

    @guarded
    async def customers_with_pending(self) -> list[str]:
        members = await self._redis.smembers(self._keys.pending)
        return sorted(text(m) for m in members)

    @guarded
    async def move(self, source: str, target: str) -> int:
        """Append ``source``'s pending entries to ``target``'s inbox (merge); returns count."""
        moved = await self.pending(source)
        for _, inbound in moved:
            await self.push(target, inbound)
        await self._redis.delete(self._keys.inbox(source))
        await self.settle(source, 0)
        return len(moved)
