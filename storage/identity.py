"""Identities: channel accounts (``vk:1``, ``max:2``, ``web:<sid>``) belong to one customer.

* ``resolve`` maps an account to its customer (creating one), recording when it was last active.
* Link tokens (128 random bits, url-safe, single use via ``GETDEL``, 15 min) and 6-digit link
  codes join an account to another customer in two steps: ``claim_link_token`` /
  ``claim_link_code`` spend the token or code and park it for that account
  (``LINK_CONFIRM_TTL``); only ``confirm_link``, after the person pressed «Объединить», joins.
  Code guesses are limited per account and per address (``storage.links.Guesses``); which
  six digits are guesses at all the runtime decides (``bots.linking``).
* ``merge`` moves accounts, history, profile fields, reminders and pending inbox entries of
  ``other`` into ``keep``, keeps ``keep``'s state and deletes ``other``'s lock, so a process
  still holding it gets ``LockLost`` on save instead of resurrecting ``other``. A side that
  had something of its own (``Standing.established``) is not shown to the other: every
  account of the receiving side gets a ``visible`` mark (``visible_from``) and the history
  before it is not replayed there. Who stays is ``storage.links.keeps_issuer``.

This module must not run flows or decide when to link; the runtime asks. The threat model is
in ``bots.linking``.
"""

from __future__ import annotations

import logging
import math
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
    LINK_CODE_DIGITS,
    LINK_CODE_TTL,
    LINK_CONFIRM_TTL,
    LINK_FRESH_MESSAGES,
    LINK_TOKEN_BYTES,
    LINK_TOKEN_TTL,
    Keys,
)
from storage.links import Guesses, Standing, keeps_issuer, phone_match_allowed
from storage.profile import Profiles
from storage.reminders import Reminders
from storage.scripts import CompareAndDelete, runner

log = logging.getLogger("svyaz.storage")

CUSTOMER_ID_BYTES = 9  # 72 random bits, 12 url-safe characters
_CODE = re.compile(rf"[0-9]{{{LINK_CODE_DIGITS}}}")
_CODE_TRIES = 20
_NOT_TYPED = ("start", "link")  # history notes of inbound entries that are no typed message


@dataclass(frozen=True, slots=True)
class Joined:
    """A confirmed link: ``keep`` stays; ``gone`` (if any) was merged into it."""

    keep: str
    gone: str | None


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
        self._del_if = runner(redis, CompareAndDelete)
        self._guesses = Guesses(redis, keys)

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

    async def detach(self, account: str, customer: str) -> None:
        """Drop one account of a customer (erasure); only if it still maps there."""
        await self._del_if(CompareAndDelete(self._keys.account(account), customer))
        await self._redis.delete(self._keys.link_account_failures(account),
                                 self._keys.link_pending(account),
                                 self._keys.link_expected(account))

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
    async def claim_link_token(self, token: str, account: str) -> str | None:
        """Spend ``token`` for ``account``: its customer now waits for the account's
        ``confirm_link``; None when the token is unknown, used or expired."""
        if not token or len(token) > 128:
            return None
        key = self._keys.link_token(token)
        found = await self._redis.getdel(key)
        if found is None:
            return None
        return await self._park(account, text(found), key)

    async def _park(self, account: str, target: str, key: str) -> str:
        await self._redis.srem(self._keys.links(target), key)
        await self._redis.set(self._keys.link_pending(account), target, ex=LINK_CONFIRM_TTL)
        return target

    @guarded
    async def pending_link(self, account: str) -> str | None:
        """The customer a claimed link of ``account`` waits to join, if any."""
        found = await self._redis.get(self._keys.link_pending(account))
        return None if found is None else text(found)

    @guarded
    async def drop_link(self, account: str) -> bool:
        """The person said no: forget the claimed link (it was spent when claimed)."""
        return bool(await self._redis.delete(self._keys.link_pending(account)))

    @guarded_slow
    async def confirm_link(
        self, account: str, *, settle: tuple[str, str] | None = None,
    ) -> Joined | None:
        """Join ``account``'s customer and the claimed link's (see ``keeps_issuer``); None when
        nothing waits or the link's customer is gone. ``settle`` (customer, inbox entry id):
        the entry that confirmed, settled before its customer is merged away (its inbox moves,
        and the entry with it would be run a second time)."""
        found = await self._redis.getdel(self._keys.link_pending(account))
        if found is None:
            return None
        issuer, current = text(found), await self.customer_of(account)
        if not await self._redis.exists(self._keys.accounts(issuer)):
            return None  # erased meanwhile
        if current is None or current == issuer:
            now = time.time()
            if current is None:  # a new account: nothing of its own, nothing of theirs shown
                await self._redis.hset(self._keys.visible(issuer), account, now)
            await self._attach(account, issuer, now)
            return Joined(issuer, None)
        stays = keeps_issuer(await self.standing(issuer), await self.standing(current))
        keep, other = (issuer, current) if stays else (current, issuer)
        if settle is not None and settle[0] == other:
            await self._inbox.done(*settle)
        await self.merge(keep, other)
        return Joined(keep, other)

    @guarded
    async def redeem_link_token(self, token: str, account: str) -> str | None:
        """``claim_link_token`` and ``confirm_link`` at once, for tools and tests (the runtime
        asks the person in between); the customer that stays."""
        if await self.claim_link_token(token, account) is None:
            return None
        joined = await self.confirm_link(account)
        return None if joined is None else joined.keep

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
        for _ in range(_CODE_TRIES):
            code = f"{secrets.randbelow(10**LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"
            key = self._keys.link_code(code)
            if await self._redis.set(key, customer, nx=True, ex=self.link_code_ttl):
                await self._remember_link(customer, key)
                return code
        raise StorageError("no free link code; too many live codes")

    @guarded
    async def claim_link_code(
        self, code: str, account: str, *, address: str | None = None,
    ) -> str | None:
        """Spend ``code`` for ``account`` as ``claim_link_token`` does. Call it only for an
        account told to type a code: every miss is a guess, limited per account and per
        ``address`` (None: refused, or wrong, or no code)."""
        if not await self._guesses.allowed(account, address):
            return None
        key = self._keys.link_code(code) if _CODE.fullmatch(code) else None
        found = None if key is None else await self._redis.getdel(key)
        if key is None or found is None:
            await self._guesses.failed(account, address)
            return None
        return await self._park(account, text(found), key)

    @guarded
    async def redeem_link_code(self, code: str, account: str) -> str | None:
        """``claim_link_code`` and ``confirm_link`` at once (as ``redeem_link_token``)."""
        if await self.claim_link_code(code, account) is None:
            return None
        joined = await self.confirm_link(account)
        return None if joined is None else joined.keep

    @guarded
    async def expect_code(self, account: str) -> None:
        """``account`` was told to type a code (shown a link offer, sent a phone match)."""
        await self._redis.set(self._keys.link_expected(account), 1, ex=self.link_code_ttl)

    @guarded
    async def expects_code(self, account: str, customer: str) -> bool:
        """Whether six digits from ``account`` are a code guess: it was told to type one, or
        its customer is fresh (a visitor's first messages); else they are an ordinary answer,
        a postcode or an order number."""
        if await self._redis.exists(self._keys.link_expected(account)):
            return True
        return (await self.standing(customer)).fresh

    @guarded
    async def phone_match_allowed(self, phone: str) -> bool:
        return await phone_match_allowed(self._redis, self._keys, phone)

    @guarded
    async def standing(self, customer: str) -> Standing:
        """How established ``customer`` is (``storage.links.Standing``)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hkeys(self._keys.profile(customer))
        pipe.llen(self._keys.consents(customer))
        fields, consents = await pipe.execute()
        profile = bool(consents) or any(text(f) != "name" for f in fields)  # (name: platform's)
        typed, since = 0, math.inf
        async for entry in self._history.entries(customer):
            since = min(since, entry.ts)
            if entry.direction == "in" and entry.text and not entry.note.startswith(_NOT_TYPED):
                typed += 1
                if typed >= LINK_FRESH_MESSAGES:
                    break
        return Standing(typed, profile, since)

    @guarded
    async def visible_from(self, customer: str, account: str) -> float:
        """The time from which ``customer``'s history may be replayed to ``account`` (0: all)."""
        found = await self._redis.hget(self._keys.visible(customer), account)
        return 0.0 if found is None else float(found)

    # ------------------------------------------------------------------ merge

    @guarded_slow
    async def merge(self, keep: str, other: str) -> None:
        """Fold ``other`` into ``keep`` (see the module docstring); safe to re-run."""
        if keep == other:
            return
        await self._hide_pasts(keep, other)
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


    async def _hide_pasts(self, keep: str, other: str) -> None:
        """Before a merge: each side's accounts will not be shown what the other side, if it
        had anything of its own, said before (``visible_from``); the other's marks stay."""
        now = time.time()
        marks: dict[str, float] = {text(a): float(t) for a, t in (
            await self._redis.hgetall(self._keys.visible(other))).items()}
        for seer, seen in ((keep, other), (other, keep)):
            if (await self.standing(seen)).established:
                marks.update({info.account: now for info in await self.accounts(seer)})
        if marks:
            await self._redis.hset(self._keys.visible(keep), mapping=dict[Any, Any](marks))


def _account_infos(rows: Any) -> list[AccountInfo]:
    """``ZREVRANGE ... WITHSCORES`` of a customer's accounts."""
    return [AccountInfo(text(account), float(score)) for account, score in rows]


def _routes(rows: Any) -> dict[str, str]:
    """``HGETALL`` of a customer's routes."""
    return {text(account): text(route) for account, route in rows.items()}
