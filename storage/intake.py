"""Accepting an inbound event: de-duplicate, resolve the customer, push to the inbox — cheaply.

The hot path of every webhook. For a known account it costs two round trips, each a plain
(non-transactional) pipeline, so it works unchanged on Redis Cluster:

1. ``SET NX`` of the event's de-duplication key and ``GET`` of the account's customer;
2. one Lua script in the customer's slot — check the account still belongs to the customer
   (a merge moves it), mark it active, keep the first display name, push the event to the
   inbox — and ``SADD`` of the customer to the global pending set.

A new account (or one a merge just moved) takes the slow path through ``Identities.resolve``.
If anything fails after the de-duplication key was set, the key is removed again so the
platform's retry gets through. This module must not process events.
"""

from __future__ import annotations

import contextlib
import time

from flows.types import Inbound
from storage.client import RedisClient
from storage.codec import encode_inbound, text
from storage.dedupe import Dedupe
from storage.errors import StorageError, guarded
from storage.identity import Identities
from storage.inbox import FIELD, Inbox
from storage.keys import DEDUPE_TTL, Keys

# KEYS: accounts, profile, inbox. ARGV: now, account, has name ("1"/"0"), name, inbound json.
# Returns the inbox entry id, or false when the account is not (or no longer) the customer's.
PUSH_LUA = f"""
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return false end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '1' then redis.call('HSETNX', KEYS[2], 'name', ARGV[4]) end
return redis.call('XADD', KEYS[3], '*', '{FIELD}', ARGV[5])
"""


class Intake:
    """``accept``: an inbound event made durable in its customer's inbox."""

    def __init__(
        self, redis: RedisClient, keys: Keys, *, identities: Identities, inbox: Inbox,
        dedupe: Dedupe,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._identities = identities
        self._inbox = inbox
        self._dedupe = dedupe

    @guarded
    async def accept(self, dedupe_key: str, inbound: Inbound) -> str | None:
        """The customer whose inbox now holds ``inbound``; None when it was seen before."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._keys.dedupe(dedupe_key), 1, nx=True, ex=DEDUPE_TTL)
        pipe.get(self._keys.account(inbound.account))
        first, found = await pipe.execute()
        if not first:
            return None
        try:
            return await self._push(None if found is None else text(found), inbound)
        except BaseException:
            with contextlib.suppress(StorageError):  # let the platform's retry through
                await self._dedupe.forget(dedupe_key)
            raise

    async def _push(self, customer: str | None, inbound: Inbound) -> str:
        if customer is not None and await self._push_known(customer, inbound):
            return customer
        customer = await self._identities.resolve(inbound.account, name=inbound.name)
        await self._inbox.push(customer, inbound)
        return customer

    async def _push_known(self, customer: str, inbound: Inbound) -> bool:
        keys = [self._keys.accounts(customer), self._keys.profile(customer),
                self._keys.inbox(customer)]
        name = inbound.name.strip() if inbound.name else ""
        args: list[str | float] = [time.time(), inbound.account, "1" if inbound.name else "0", name,
                encode_inbound(inbound)]
        self._inbox.drop_prefetched(customer)
        pipe = self._redis.pipeline(transaction=False)
        pipe.eval(PUSH_LUA, len(keys), *keys, *args)  # EVAL: no NOSCRIPT inside a pipeline
        pipe.sadd(self._keys.pending, customer)  # another slot: a plain pipeline, no MULTI
        entry_id, _ = await pipe.execute()
        return entry_id is not None
