"""Identities: channel accounts (``vk:1``, ``max:2``, ``web:<sid>``) belong to one customer.

* ``resolve`` maps an account to its customer (creating one), recording when it was last active.
* Link tokens (128 random bits, url-safe, single use via ``GETDEL``, 15 min) and 6-digit link
  codes join a new account to an existing customer. Codes are attempt-limited twice: an account
  may fail ``LINK_ACCOUNT_MAX_FAILURES`` times per window, and a code is burned once
  ``LINK_CODE_MAX_FAILURES`` wrong guesses (bot-wide: a wrong guess cannot tell which code it
  aimed at) were made during its life — so 1,000 guesses from 1,000 accounts cannot find it.
  Six digits count as a guess only while some code is live: otherwise they are a postcode or
  an order number, and a shop asking for postcodes would burn every code it issues.
* ``merge`` moves accounts, history, profile fields, reminders and pending inbox entries of
  ``other`` into ``keep``, keeps ``keep``'s state and deletes ``other``'s lock, so a process
  still holding it gets ``LockLost`` on save instead of resurrecting ``other``.

This module must not run flows or decide when to link; the runtime asks.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from storage.client import RedisClient
from storage.codec import text
from storage.errors import StorageError, guarded, guarded_slow
from storage.history import History
from storage.inbox import Inbox
from storage.keys import (
    LINK_ACCOUNT_MAX_FAILURES,
    LINK_ACCOUNT_WINDOW,
    LINK_CODE_DIGITS,
    LINK_CODE_MAX_FAILURES,
    LINK_CODE_TTL,
    LINK_TOKEN_BYTES,
    LINK_TOKEN_TTL,
    Keys,
)
from storage.profile import Profiles
from storage.reminders import Reminders

log = logging.getLogger("svyaz.storage")

CUSTOMER_ID_BYTES = 9  # 72 random bits, 12 url-safe characters
_CODE = re.compile(rf"[0-9]{{{LINK_CODE_DIGITS}}}")
_CODE_TRIES = 20

# KEYS: account key. ARGV: customer. Delete only when the account still maps to it.
DEL_IF_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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


class Identities:
    """Account ↔ customer mapping, link tokens and codes, merging."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        *,
        history: History,
        profiles: Profiles,
        reminders: Reminders,
        inbox: Inbox,
        link_token_ttl: int = LINK_TOKEN_TTL,
        link_code_ttl: int = LINK_CODE_TTL,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._history = history
        self._profiles = profiles
        self._reminders = reminders
        self._inbox = inbox
        self.link_token_ttl = link_token_ttl
        self.link_code_ttl = link_code_ttl
        self._del_if = redis.register_script(DEL_IF_LUA)

    # ------------------------------------------------------------------ accounts

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
        await self._redis.zadd(self._keys.accounts(customer), {account: time.time()})
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

    async def _attach(self, account: str, customer: str, last_active: float) -> None:
        previous = await self.customer_of(account)
        await self._redis.set(self._keys.account(account), customer)
        await self._redis.zadd(self._keys.accounts(customer), {account: last_active})
        if previous is not None and previous != customer:
            await self._redis.zrem(self._keys.accounts(previous), account)

    async def _join(self, account: str, target: str) -> None:
        current = await self.customer_of(account)
        if current is None:
            await self._redis.sadd(self._keys.customers, target)
            await self._attach(account, target, time.time())
        elif current != target:
            await self.merge(target, current)
        else:
            await self._redis.zadd(self._keys.accounts(target), {account: time.time()})

    async def detach(self, account: str, customer: str) -> None:
        """Drop one account of a customer (erasure); only if it still maps there."""
        await self._del_if(keys=[self._keys.account(account)], args=[customer])
        await self._redis.delete(self._keys.link_account_failures(account))

    # ------------------------------------------------------------------ link tokens

    @guarded
    async def issue_link_token(self, customer: str) -> str:
        """A single-use url-safe token (128 bits) that joins another account to ``customer``."""
        token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
        key = self._keys.link_token(token)
        await self._redis.set(key, customer, ex=self.link_token_ttl)
        await self._remember_link(customer, key)
        return token

    @guarded
    async def redeem_link_token(
        self, token: str, account: str, *, settle: tuple[str, str] | None = None,
    ) -> str | None:
        """Join ``account`` to the token's customer (merging its old customer); the customer,
        or None when the token is unknown, used or expired. ``settle`` (customer, inbox entry
        id): the entry that carried the token, settled once it is redeemed — before the merge
        moves that inbox, where it would be redeemed a second time."""
        if not token or len(token) > 128:
            return None
        key = self._keys.link_token(token)
        found = await self._redis.getdel(key)
        if found is None:
            return None
        target = text(found)
        await self._redis.srem(self._keys.links(target), key)
        await self._settle(settle)
        await self._join(account, target)
        return target

    async def _settle(self, entry: tuple[str, str] | None) -> None:
        if entry is not None:
            await self._inbox.done(*entry)

    async def _remember_link(self, customer: str, key: str) -> None:
        """Index a live link key under the customer so erasure and merge can find it; the
        index outlives every link it lists."""
        links = self._keys.links(customer)
        await self._redis.sadd(links, key)
        await self._redis.expire(links, max(self.link_token_ttl, self.link_code_ttl))

    # ------------------------------------------------------------------ link codes

    @guarded
    async def issue_link_code(self, customer: str) -> str:
        """A 6-digit code, expiring and attempt-limited, that joins an account to ``customer``."""
        failures = await self._failures()
        for _ in range(_CODE_TRIES):
            code = f"{secrets.randbelow(10**LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"
            key = self._keys.link_code(code)
            if await self._redis.set(key, f"{customer}|{failures}", nx=True, ex=self.link_code_ttl):
                await self._remember_link(customer, key)
                now = time.time()
                pipe = self._redis.pipeline(transaction=False)
                pipe.zadd(self._keys.link_codes_live, {code: now + self.link_code_ttl})
                pipe.zremrangebyscore(self._keys.link_codes_live, "-inf", now)
                pipe.expire(self._keys.link_codes_live, self.link_code_ttl)
                await pipe.execute()
                return code
        raise StorageError("no free link code; too many live codes")

    @guarded
    async def redeem_link_code(
        self, code: str, account: str, *, settle: tuple[str, str] | None = None,
    ) -> str | None:
        """Join ``account`` to the code's customer; None when wrong, expired or rate-limited
        (``settle``: as for ``redeem_link_token``; not settled when the digits are no code,
        for they are an ordinary answer then)."""
        fail_key = self._keys.link_account_failures(account)
        if int(await self._redis.get(fail_key) or 0) >= LINK_ACCOUNT_MAX_FAILURES:
            return None
        key = self._keys.link_code(code) if _CODE.fullmatch(code) else None
        found = None if key is None else await self._redis.get(key)
        if key is None or found is None:
            if await self._codes_live():  # else no guess at anything: a postcode, say
                await self._fail(fail_key)
            return None
        target, _, issued_at = text(found).rpartition("|")
        if await self._failures() - int(issued_at) >= LINK_CODE_MAX_FAILURES:
            await self._redis.delete(key)  # burned: too many guesses during its life
            await self._redis.zrem(self._keys.link_codes_live, code)
            return None
        if await self._redis.getdel(key) is None:
            return None  # redeemed by someone else a moment ago
        await self._redis.zrem(self._keys.link_codes_live, code)
        await self._redis.srem(self._keys.links(target), key)
        await self._settle(settle)
        await self._join(account, target)
        return target

    async def _codes_live(self) -> bool:
        """Whether a link code issued by this bot may still be redeemed (one may have been
        erased with its customer meanwhile: then guesses still count until it would expire)."""
        return bool(await self._redis.zcount(self._keys.link_codes_live, time.time(), "+inf"))

    async def _failures(self) -> int:
        return int(await self._redis.get(self._keys.link_code_failures) or 0)

    async def _fail(self, fail_key: str) -> None:
        await self._redis.incr(self._keys.link_code_failures)
        if await self._redis.incr(fail_key) == 1:
            await self._redis.expire(fail_key, LINK_ACCOUNT_WINDOW)

    # ------------------------------------------------------------------ merge

    @guarded_slow
    async def merge(self, keep: str, other: str) -> None:
        """Fold ``other`` into ``keep`` (see the module docstring); safe to re-run."""
        if keep == other:
            return
        for info in await self.accounts(other):
            await self._attach(info.account, keep, info.last_active)
        await self._history.absorb(keep, other)
        await self._profiles.absorb(keep, other)
        await self._reminders.move(other, keep)
        await self._inbox.move(other, keep)
        if routes := await self.routes(other):  # the accounts moved: their routes go too
            await self._redis.hset(self._keys.routes(keep), mapping=dict[Any, Any](routes))
        for key in await self._redis.smembers(self._keys.links(other)):
            await self._redis.delete(text(key))
        await self._redis.sadd(self._keys.merged(keep), other)
        await self._redis.sadd(self._keys.customers, keep)
        await self._redis.srem(self._keys.customers, other)
        await self._redis.delete(*self._keys.customer_keys(other))
        log.info("customer %s merged into %s", other, keep)


def _account_infos(rows: Any) -> list[AccountInfo]:
    """``ZREVRANGE ... WITHSCORES`` of a customer's accounts."""
    return [AccountInfo(text(account), float(score)) for account, score in rows]


def _routes(rows: Any) -> dict[str, str]:
    """``HGETALL`` of a customer's routes."""
    return {text(account): text(route) for account, route in rows.items()}
