"""What linking needs besides the account map: guess limits, who stays in a merge.

* ``Guesses``: a six-digit code guess is limited per account (``LINK_ACCOUNT_MAX_FAILURES``)
  and per network address (``LINK_ADDRESS_MAX_FAILURES``, the web chat's digest of the
  visitor's IP) within ``LINK_ACCOUNT_WINDOW``. Nothing is counted bot-wide, so nobody can
  burn everyone's codes; which texts are guesses at all is the runtime's decision
  (``bots.linking``): only from an account that was told to type a code.
* ``Standing`` and ``keeps_issuer``: of two customers being merged, the established one stays
  (the side with a profile, else the older one); two fresh sides keep the issuer of the link.
* ``phone_match_allowed``: codes sent to another channel for one phone number are limited.
* ``remember_link``/``park``: a link key's index under its customer, and a spent key waiting
  for the account's confirmation.

The threat model these serve is in ``bots.linking``. This module must not decide when to
link, nor run flows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from storage.client import RedisClient
from storage.keys import (
    LINK_ACCOUNT_MAX_FAILURES,
    LINK_ACCOUNT_WINDOW,
    LINK_ADDRESS_MAX_FAILURES,
    LINK_CONFIRM_TTL,
    LINK_FRESH_MESSAGES,
    PHONE_MATCH_MAX,
    PHONE_MATCH_WINDOW,
    Keys,
)


@dataclass(frozen=True, slots=True)
class Standing:
    """How established a customer is: ``typed`` messages (up to ``LINK_FRESH_MESSAGES``), any
    profile field or consent, and the time of its first history entry (inf: none)."""

    typed: int
    profile: bool
    since: float = math.inf

    @property
    def fresh(self) -> bool:
        """No profile and fewer than ``LINK_FRESH_MESSAGES`` typed messages."""
        return not self.profile and self.typed < LINK_FRESH_MESSAGES

    @property
    def established(self) -> bool:
        """Has something of its own to protect: a typed message or a profile."""
        return self.profile or self.typed > 0


def keeps_issuer(issuer: Standing, redeemer: Standing) -> bool:
    """Whether the link's issuer is the customer that stays: the established side, then the
    side with a profile, then the older; a tie (two fresh sides) keeps the issuer."""
    return _rank(issuer) >= _rank(redeemer)


def _rank(side: Standing) -> tuple[bool, bool, float]:
    return side.established, side.profile, -side.since if side.established else 0.0


class Guesses:
    """Failed code guesses per account and per address, in a sliding-by-window count."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def _counters(self, account: str, address: str | None) -> list[tuple[str, int]]:
        found = [(self._keys.link_account_failures(account), LINK_ACCOUNT_MAX_FAILURES)]
        if address:
            found.append((self._keys.link_address_failures(address), LINK_ADDRESS_MAX_FAILURES))
        return found

    async def allowed(self, account: str, address: str | None) -> bool:
        """Whether ``account`` (from ``address``) may make another guess now."""
        for key, limit in self._counters(account, address):
            if int(await self._redis.get(key) or 0) >= limit:
                return False
        return True

    async def failed(self, account: str, address: str | None) -> None:
        for key, _ in self._counters(account, address):
            if await self._redis.incr(key) == 1:
                await self._redis.expire(key, LINK_ACCOUNT_WINDOW)


async def phone_match_allowed(redis: RedisClient, keys: Keys, e164: str) -> bool:
    """Count one phone-match code for ``e164``; False once ``PHONE_MATCH_MAX`` were sent in
    the window (a stranger typing someone's number cannot flood their chat with codes)."""
    key = keys.phone_matches(e164)
    sent = int(await redis.incr(key))
    if sent == 1:
        await redis.expire(key, PHONE_MATCH_WINDOW)
    return sent <= PHONE_MATCH_MAX


async def remember_link(redis: RedisClient, keys: Keys, customer: str, key: str,
                        ttl: int) -> None:
    """Index a live link key under the customer so erasure and merge can find it; the
    index outlives every link it lists (``ttl``: the longest a link lives)."""
    links = keys.links(customer)
    await redis.sadd(links, key)
    await redis.expire(links, ttl)


async def park(redis: RedisClient, keys: Keys, account: str, target: str, key: str) -> str:
    """A link ``key`` of ``target`` was spent by ``account``: unindex it, and let ``target``
    wait for the account's confirmation (``LINK_CONFIRM_TTL``); ``target``."""
    await redis.srem(keys.links(target), key)
    await redis.set(keys.link_pending(account), target, ex=LINK_CONFIRM_TTL)
    return target
