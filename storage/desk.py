"""The operator desk's records: operators, failed logins, the audit log, hand-offs waiting and
claims.

Operators are one hash each (``{desk}:op:<name>``: the password's argon2 hash, role, disabled,
a session generation that disabling bumps so old cookies stop working) and a set of names.
Failed logins are counted per name and per address within a window. The audit log is a
stream that names customers by internal id only, so erasing a customer (``Store.forget``)
leaves the record of who looked. A claim is one key in the customer's slot, set only if
absent: two operators can never both hold it.

This module must not hash or check passwords, decide roles or limits, or run flows (the desk
in ``bots.desk`` does); it builds no key names (``storage.keys`` does).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from storage.client import RedisClient
from storage.codec import stream_rows, text
from storage.desk_list import Summaries
from storage.errors import guarded
from storage.keyparts import check_operator
from storage.keys import (
    DESK_AUDIT_MAXLEN,
    DESK_LOGIN_WINDOW,
    DESK_SHORT_TTL,
    Keys,
)
from storage.scripts import CompareAndDelete, runner

Role = Literal["owner", "operator"]


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    password_hash: str
    role: Role
    disabled: bool
    generation: int  # sessions carry it; disabling or removing bumps it
    created: float


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: float
    operator: str
    action: str  # "card" (opened a customer's card), "export", "claim", "release", ...
    customer: str  # the internal id, never a name or phone; EVERYONE: all customers at once


EVERYONE = "*"  # the audit's customer of what concerned every customer (``svyaz export``)


def _operator(name: str, raw: dict[str, str]) -> Operator | None:
    if "hash" not in raw:
        return None
    return Operator(name=name, password_hash=raw["hash"],
                    role="owner" if raw.get("role") == "owner" else "operator",
                    disabled=raw.get("disabled") == "1", generation=int(raw.get("gen", "0")),
                    created=float(raw.get("created", "0")))


class Operators:
    """The people who may use the desk."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def add(self, name: str, password_hash: str, role: Role) -> bool:
        """False when an operator of that name exists (the set decides, atomically)."""
        check_operator(name)
        if not await self._redis.sadd(self._keys.desk_operators, name):
            return False
        await self._redis.hset(self._keys.desk_operator(name), mapping={
            "hash": password_hash, "role": role, "disabled": "0", "gen": "1",
            "created": repr(time.time())})
        return True

    @guarded
    async def get(self, name: str) -> Operator | None:
        try:
            key = self._keys.desk_operator(name)
        except ValueError:
            return None
        raw = await self._redis.hgetall(key)
        return _operator(name, {text(k): text(v) for k, v in raw.items()})

    @guarded
    async def all(self) -> list[Operator]:
        names = sorted(text(n) for n in await self._redis.smembers(self._keys.desk_operators))
        found = [await self.get(name) for name in names]
        return [op for op in found if op is not None]

    @guarded
    async def set_disabled(self, name: str, disabled: bool) -> bool:
        """Disable (ending every session) or enable; False when there is no such operator."""
        key = self._keys.desk_operator(name)
        if not await self._redis.exists(key):
            return False
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, "disabled", "1" if disabled else "0")
        pipe.hincrby(key, "gen", 1)
        await pipe.execute()
        return True

    @guarded
    async def end_sessions(self, name: str) -> None:
        """Every session of ``name`` stops working (logging out ends a stolen cookie too)."""
        key = self._keys.desk_operator(name)
        if await self._redis.exists(key):
            await self._redis.hincrby(key, "gen", 1)

    @guarded
    async def set_password(self, name: str, password_hash: str) -> None:
        await self._redis.hset(self._keys.desk_operator(name), "hash", password_hash)

    @guarded
    async def remove(self, name: str) -> bool:
        key = self._keys.desk_operator(name)
        pipe = self._redis.pipeline(transaction=True)
        pipe.srem(self._keys.desk_operators, name)
        pipe.delete(key)
        removed, _ = await pipe.execute()
        return bool(removed)


class LoginFailures:
    """Failed logins per operator name and per address, forgotten after the window."""

    def __init__(self, redis: RedisClient, keys: Keys, *, window: int = DESK_LOGIN_WINDOW):
        self._redis = redis
        self._keys = keys
        self._window = window

    def _names(self, name: str, address: str) -> tuple[str | None, str]:
        try:
            account: str | None = self._keys.desk_login_account(name)
        except ValueError:  # a name no operator can have: counted by address only
            account = None
        return account, self._keys.desk_login_address(address)

    @guarded
    async def counts(self, name: str, address: str) -> tuple[int, int]:
        """Failures of this name and of this address within the window."""
        account, by_address = self._names(name, address)
        values = await self._redis.mget([k for k in (account, by_address) if k])
        numbers = [int(text(v)) if v is not None else 0 for v in values]
        return (numbers[0], numbers[1]) if account else (0, numbers[0])

    @guarded
    async def failed(self, name: str, address: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key in self._names(name, address):
            if key:  # the window starts at the first failure (no EXPIRE NX before Redis 7)
                pipe.set(key, 0, ex=self._window, nx=True)
                pipe.incr(key)
        await pipe.execute()

    @guarded
    async def succeeded(self, name: str) -> None:
        account, _ = self._names(name, "-")
        if account:
            await self._redis.delete(account)


class Audit:
    """Who opened whose data: append-only, by internal customer id."""

    def __init__(self, redis: RedisClient, keys: Keys, *, maxlen: int = DESK_AUDIT_MAXLEN):
        self._redis = redis
        self._keys = keys
        self._maxlen = maxlen

    @guarded
    async def record(self, operator: str, action: str, customer: str) -> None:
        fields: dict[Any, Any] = {  # redis-py's own (invariant) field types
            "ms": int(time.time() * 1000), "op": operator, "a": action, "c": customer}
        await self._redis.xadd(self._keys.desk_audit, fields, maxlen=self._maxlen,
                               approximate=True)

    @guarded
    async def record_once(self, operator: str, action: str, customer: str, *,
                          within: int) -> bool:
        """``record``, unless the same operator did the same to the same customer within
        ``within`` seconds (a page that refreshes itself is one look, not hundreds)."""
        mark = self._keys.desk_audit_mark(operator, action, customer)
        if not await self._redis.set(mark, "1", ex=within, nx=True):
            return False
        await self.record(operator, action, customer)
        return True

    @guarded
    async def latest(self, count: int = 200) -> list[AuditRecord]:
        rows = stream_rows(await self._redis.xrevrange(self._keys.desk_audit, count=count))
        return [AuditRecord(at=int(f.get("ms", "0")) / 1000, operator=f.get("op", ""),
                            action=f.get("a", ""), customer=f.get("c", ""))
                for _, f in rows]


class Handoffs:
    """When each hand-off began, and which operator holds which conversation."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._del_if = runner(redis, CompareAndDelete)

    @guarded
    async def began(self, customer: str, at: float) -> None:
        await self._redis.zadd(self._keys.desk_waiting, {customer: at})

    @guarded
    async def since(self, customers: Iterable[str]) -> dict[str, float]:
        wanted = list(customers)
        if not wanted:
            return {}
        scores = await self._redis.zmscore(self._keys.desk_waiting, wanted)
        return {c: float(s) for c, s in zip(wanted, scores, strict=True) if s is not None}

    @guarded
    async def waiting(self) -> dict[str, float]:
        rows: Any = await self._redis.zrange(self._keys.desk_waiting, 0, -1, withscores=True)
        return {text(member): float(score) for member, score in rows}

    @guarded
    async def ended(self, customer: str) -> bool:
        """The hand-off no longer waits; True for the one caller that ended it."""
        return bool(await self._redis.zrem(self._keys.desk_waiting, customer))

    @guarded
    async def claim(self, customer: str, operator: str) -> str:
        """Take the conversation for ``operator`` if nobody holds it; who holds it now."""
        key = self._keys.desk_claim(customer)
        if await self._redis.set(key, operator, nx=True):
            return operator
        holder = await self._redis.get(key)
        return operator if holder is None else text(holder)

    @guarded
    async def tell_once(self, customer: str, since: float, ttl: float) -> bool:
        """True for the one caller that is to tell the customer of the hand-off begun at
        ``since`` when to expect an answer (the mark outlives the hand-off by ``ttl`` s)."""
        return bool(await self._redis.set(self._keys.desk_told(customer, since), "1",
                                          ex=max(1, int(ttl)), nx=True))

    @guarded
    async def holder(self, customer: str) -> str | None:
        found = await self._redis.get(self._keys.desk_claim(customer))
        return None if found is None else text(found)

    @guarded
    async def holders(self, customers: Iterable[str]) -> dict[str, str]:
        wanted = list(customers)
        if not wanted:
            return {}
        pipe = self._redis.pipeline(transaction=False)  # one key per customer: no MULTI
        for customer in wanted:
            pipe.get(self._keys.desk_claim(customer))
        found = await pipe.execute()
        return {c: text(h) for c, h in zip(wanted, found, strict=True) if h is not None}

    @guarded
    async def unclaim(self, customer: str, operator: str | None = None) -> None:
        """Drop the claim (only ``operator``'s, when given)."""
        key = self._keys.desk_claim(customer)
        if operator is None:
            await self._redis.delete(key)
        else:
            await self._del_if(CompareAndDelete(key, operator))

    @guarded
    async def short_number(self, customer: str) -> int:
        """The customer's short number for the owner's messenger: the one given before while
        it lives, else a new one."""
        mine = self._keys.desk_short_of(customer)
        known = await self._redis.get(mine)
        if known is not None and await self.by_short(int(known)) == customer:
            return int(known)
        number = int(await self._redis.incr(self._keys.desk_short_seq))
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._keys.desk_short(number), customer, ex=DESK_SHORT_TTL)
        pipe.set(mine, number, ex=DESK_SHORT_TTL)
        await pipe.execute()
        return number

    @guarded
    async def noted(self, channel: str, message_id: str, number: int) -> None:
        """The note ``message_id`` in the owner's ``channel`` chat is hand-off ``number``'s
        (a number, not a customer: erasing the customer ends the number, and the note's)."""
        await self._redis.set(self._keys.desk_note(channel, message_id), number,
                              ex=DESK_SHORT_TTL)

    @guarded
    async def of_note(self, channel: str, message_id: str) -> int | None:
        """The short number of the hand-off whose note ``message_id`` is, while it lives."""
        try:
            key = self._keys.desk_note(channel, message_id)
        except ValueError:  # not an id svyaz could have kept
            return None
        found = await self._redis.get(key)
        return None if found is None else int(found)

    @guarded
    async def by_short(self, number: int) -> str | None:
        found = await self._redis.get(self._keys.desk_short(number))
        return None if found is None else text(found)

    @guarded
    async def forget(self, customer: str) -> None:
        """Erasure: the waiting and activity indexes and the short number name the customer
        (the claim key goes with the customer's keys); the audit log keeps the internal id on
        purpose."""
        await self._redis.zrem(self._keys.desk_waiting, customer)
        await self._redis.zrem(self._keys.desk_active, customer)
        known = await self._redis.get(self._keys.desk_short_of(customer))
        if known is not None:
            await self._del_if(CompareAndDelete(self._keys.desk_short(int(known)), customer))


class Desk:
    """The desk's storage parts, sharing one client."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.operators = Operators(redis, keys)
        self.logins = LoginFailures(redis, keys)
        self.audit = Audit(redis, keys)
        self.handoffs = Handoffs(redis, keys)
        self.summaries = Summaries(redis, keys)
