"""Invitation tokens: a personal link that joins an imported customer (``svyaz import
--invite``) with the messenger account that opens it first.

An invitation is a link token of its own kind: 128 random bits, url-safe, stored under its
SHA-256 (``Keys.invite_token``) with the customer's id, single use (``GETDEL``), living as long
as the owner says (``INVITE_TTL`` by default, 30 days, against the 15 minutes of a «продолжить
в …» link). Each live token's key is indexed under its customer (``Keys.invites``) so that
``svyaz forget`` and a merge erase them; the index lives as long as its longest token.

``InviteSends`` keeps, per customer, the invitation sent to them by SMS and by e-mail
(``svyaz invite send``, ``bots.invite_send``): a hash ``Keys.invited`` with one field per
channel, claimed with ``HSETNX`` before the send leaves and settled after, so a customer gets
at most one invitation per channel ever, through a re-run, a second process or kill -9 (a
claim never settled stays: its fate is unknown, and it is never sent again). The one
exception is the owner's: after new links (``svyaz invite links``) ``svyaz invite send
--again`` sends them under a field of their own, ``sms:<links>`` (``<links>``: a digest of
the tokens sent), claimed the same way: once per channel and per set of links. It is the
customer's data: ``svyaz forget`` erases it (``Keys.customer_keys``), the export shows it,
a merge carries it to the customer kept (``storage.merge``).

When a token may join, and whom, is ``bots.invites``' decision (its docstring has the threat
model). This module must not decide that, nor merge, run flows or send.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Literal

from storage.client import RedisClient
from storage.codec import dumps, loads, text
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


InviteState = Literal["claimed", "sent", "unknown"]


@dataclass(frozen=True, slots=True)
class SentInvite:
    """One invitation by SMS or e-mail: ``claimed`` (about to leave, or left and the process
    died before it heard back), ``sent``, or ``unknown`` (left, no answer came)."""

    state: InviteState
    at: float  # when it was claimed or settled (epoch seconds)
    to: str  # the phone or address it went to
    sms_id: str = ""  # the provider's id of an SMS
    parts: int = 0  # SMS parts it cost
    links: str = ""  # a digest of the links' tokens it carried (``bots.invite_send.digest``)


class InviteSends:
    """Which invitation went to a customer by SMS or e-mail (one per channel, ever)."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def claim(self, customer: str, channel: str, at: float, to: str,
                    links: str = "") -> bool:
        """Claim the customer's one invitation on ``channel`` (``sms``, ``email`` or, sent
        again, ``sms:<links>``; to address ``to``), before it is sent; False when one was
        claimed before (sent, or its fate unknown)."""
        record = SentInvite("claimed", at, to, links=links)
        return bool(await self._redis.hsetnx(self._keys.invited(customer), channel,
                                             dumps(asdict(record))))

    @guarded
    async def settle(self, customer: str, channel: str, record: SentInvite) -> None:
        """What the claimed send did (sent or unknown, with the provider's id)."""
        await self._redis.hset(self._keys.invited(customer), channel, dumps(asdict(record)))

    @guarded
    async def release(self, customer: str, channel: str) -> None:
        """Give back a claim whose send never left (refused, unreachable): a re-run may try.
        (Plain ``HDEL``: while the claim stands nobody else can hold that field.)"""
        await self._redis.hdel(self._keys.invited(customer), channel)

    @guarded
    async def records(self, customer: str) -> dict[str, SentInvite]:
        """The customer's invitations by channel field (for the plan and the export)."""
        raw = await self._redis.hgetall(self._keys.invited(customer))
        return {text(k): SentInvite(**loads(v)) for k, v in sorted(raw.items())}
