"""Accounts: channel accounts (``vk:1``, ``max:2``, ``web:<sid>``) belong to one customer.

* ``resolve`` maps an account to its customer (creating one), recording when it was last active.
* ``set_route``/``routes``/``reach``: how to reach an account besides its user id.
* ``attach``/``detach`` move or drop one account (linking, merging, erasure).
* ``visible_from``: the mark from which a customer's history is replayed to an account (set by
  linking and merging, ``storage.identity`` and ``storage.merge``).

This module must not link or merge customers (``storage.identity``, ``storage.merge``) nor run
flows.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded
from storage.keys import Keys
from storage.profile import Profiles
from storage.scripts import CompareAndDelete, runner

CUSTOMER_ID_BYTES = 9  # 72 random bits, 12 url-safe characters


@dataclass(frozen=True, slots=True)
class AccountInfo:
    account: str
    last_active: float


def new_customer_id() -> str:
    """A random customer id that never starts with ``-``.

    An id such as ``-_kLblEA39Np`` would read as an option on the command line
    (``svyaz forget -_kLblEA39Np``); ids made before this rule need ``--`` first.
    """
    while True:
        customer = secrets.token_urlsafe(CUSTOMER_ID_BYTES)
        if not customer.startswith("-"):
            return customer


class Accounts:
    """Account ↔ customer mapping, routes and replay marks."""

    def __init__(self, redis: RedisClient, keys: Keys, *, profiles: Profiles) -> None:
        self._redis = redis
        self._keys = keys
        self._profiles = profiles
        self._del_if = runner(redis, CompareAndDelete)

    @guarded
    async def resolve(self, account: str, *, name: str | None = None) -> str:
        """The account's customer id (a new customer for a new account); marks it active."""
        customer = await self.customer_of(account)
        if customer is None:
            fresh = new_customer_id()
            if await self._redis.set(self._keys.account(account), fresh, nx=True):
                await self._redis.sadd(self._keys.customers, fresh)
                customer = fresh
            else:
                customer = await self.customer_of(account)
                if customer is None:  # created and erased in between: start again
                    return await self.resolve(account, name=name)
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)  # (two slots on a cluster: no MULTI)
        pipe.zadd(self._keys.accounts(customer), {account: now})
        pipe.zadd(self._keys.desk_active, {customer: now}, gt=True)
        await pipe.execute()
        if name:
            await self._profiles.set_if_missing(customer, "name", name)
        return customer

    @guarded
    async def customer_of(self, account: str) -> str | None:
        found = await self._redis.get(self._keys.account(account))
        return None if found is None else text(found)

    @guarded
    async def accounts(self, customer: str) -> list[AccountInfo]:
        """The customer's accounts, most recently active first."""
        rows: Any = await self._redis.zrevrange(
            self._keys.accounts(customer), 0, -1, withscores=True
        )
        return _account_infos(rows)

    @guarded
    async def set_route(self, customer: str, account: str, route: str) -> None:
        """Remember how to reach ``account`` besides its user id (``connectors.base``
        ``DIALOG_PREFIX``: the one-to-one chat), for bot-initiated messages."""
        await self._redis.hset(self._keys.routes(customer), account, route)

    @guarded
    async def routes(self, customer: str) -> dict[str, str]:
        """``set_route``'s account -> route of the customer."""
        rows: Any = await self._redis.hgetall(self._keys.routes(customer))
        return _routes(rows)

    @guarded
    async def reach(self, customer: str) -> tuple[list[AccountInfo], dict[str, str]]:
        """``accounts`` and ``routes`` in one round trip (a bot-initiated message needs both)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrevrange(self._keys.accounts(customer), 0, -1, withscores=True)
        pipe.hgetall(self._keys.routes(customer))
        rows, routes = await pipe.execute()
        return _account_infos(rows), _routes(routes)

    async def attach(self, account: str, customer: str, last_active: float) -> None:
        """Map ``account`` to ``customer`` (taking it from the customer it had)."""
        previous = await self.customer_of(account)
        await self._redis.set(self._keys.account(account), customer)
        await self._redis.zadd(self._keys.accounts(customer), {account: last_active})
        await self._redis.zadd(self._keys.desk_active, {customer: last_active}, gt=True)
        if previous is not None and previous != customer:
            await self._redis.zrem(self._keys.accounts(previous), account)

    async def detach(self, account: str, customer: str) -> None:
        """Drop one account of a customer (erasure); only if it still maps there."""
        await self._del_if(CompareAndDelete(self._keys.account(account), customer))
        await self._redis.delete(self._keys.link_account_failures(account),
                                 self._keys.link_pending(account),
                                 self._keys.link_expected(account))

    @guarded
    async def visible_from(self, customer: str, account: str) -> float:
        """The time from which ``customer``'s history may be replayed to ``account`` (0: all)."""
        found = await self._redis.hget(self._keys.visible(customer), account)
        return 0.0 if found is None else float(found)


def _account_infos(rows: Any) -> list[AccountInfo]:
    """``ZREVRANGE ... WITHSCORES`` of a customer's accounts."""
    return [AccountInfo(text(account), float(score)) for account, score in rows]


def _routes(rows: Any) -> dict[str, str]:
    """``HGETALL`` of a customer's routes."""
    return {text(account): text(route) for account, route in rows.items()}
