"""Invitation tokens: a personal link that joins an imported customer (``svyaz import
--invite``) with the messenger account that opens it first.

An invitation is a link token of its own kind: 128 random bits, url-safe, stored under its
SHA-256 (``Keys.invite_token``) with the customer's id, single use (``GETDEL``), living as long
as the owner says (``INVITE_TTL`` by default, 30 days, against the 15 minutes of a «продолжить
в …» link). Each live token's key is indexed under its customer (``Keys.invites``) so that
``svyaz forget`` and a merge erase them; the index lives as long as its longest token.

When a token may join, and whom, is ``bots.invites``' decision (its docstring has the threat
model). This module must not decide that, nor merge or run flows.
"""

from __future__ import annotations

import secrets

from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keys import INVITE_TTL, LINK_TOKEN_BYTES, Keys


class Invitations:
    """Issue, look up, spend and erase a customer's invitation tokens."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def issue(self, customer: str, ttl: int = INVITE_TTL) -> str:
        """A new invitation token for ``customer``, live for ``ttl`` seconds."""
        token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
        key = self._keys.invite_token(token)
        index = self._keys.invites(customer)
        await self._redis.set(key, customer, ex=ttl)
        await self._redis.sadd(index, key)
        if await self._redis.ttl(index) < ttl:  # never shorten: the index outlives every token
            await self._redis.expire(index, ttl)
        return token

    @guarded
    async def customer_of(self, token: str) -> str | None:
        """The customer ``token`` invites (not spent); None: no such live invitation."""
        if not token or len(token) > 128:
            return None
        found = await self._redis.get(self._keys.invite_token(token))
        return None if found is None else text(found)

    @guarded
    async def spend(self, token: str) -> str | None:
        """Spend ``token``: its customer, or None when another opening spent it first."""
        key = self._keys.invite_token(token)
        found = await self._redis.getdel(key)
        if found is None:
            return None
        customer = text(found)
        await self._redis.srem(self._keys.invites(customer), key)
        return customer

    @guarded
    async def erase(self, customer: str) -> int:
        """Delete every live invitation of ``customer`` (erasure, merge, a join); how many."""
        index = self._keys.invites(customer)
        gone = 0
        for key in await self._redis.smembers(index):  # one by one: global keys, many slots
            gone += int(await self._redis.delete(text(key)))
        await self._redis.delete(index)
        return gone
