"""Accepting an inbound event: de-duplicate, resolve the customer, push to the inbox — cheaply.

The hot path of every webhook. For an account this process has seen before it costs one round
trip: on Redis Cluster a plain (non-transactional) pipeline, elsewhere one script, of

1. one Lua script in the customer's slot — check the account still belongs to the customer
   (a merge moves it), de-duplicate the platform's event id (``SET NX EX`` of a key under the
   customer's tag), mark the account active, keep the first display name, push the event to
   the inbox and, for ``take``, take the customer's lock and read state and inbox (what
   ``Locks.lease`` would do next, in the same step: the ``Lease`` it returns);
2. ``SADD`` of the customer to the global pending set, and ``ZADD`` of the customer to the
   desk's activity index (``Keys.desk_active``: the conversation list's pages read it).

The account -> customer map is cached in the process: the script's ownership check catches a
stale entry, which then takes the slow path. Outside a cluster an account not in the cache is
pushed as a new customer's, and the script creates that customer — or, when the account has
one, answers with it (nothing written), and the push goes there: a new account costs nothing
more, one this process has not seen one round trip more. On a cluster it costs a ``GET`` first
(and a new one is created through ``Identities.resolve``, as one a merge just moved). The
script writes nothing unless it accepts (a repeat may move the account's activity mark, which
the platform's retry proves anyway), so a failed accept leaves nothing behind for the
platform's retry to trip over. This module must not process events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Self

from flows.types import Inbound, TextEvent
from storage.bounded import put_bounded
from storage.client import RedisClient, scripts_span_slots
from storage.codec import encode_inbound, text
from storage.errors import StorageError, guarded, unanswered
from storage.identity import Identities, new_customer_id
from storage.inbox import FIELD
from storage.keys import DEDUPE_TTL, Keys
from storage.lock_scripts import MARK_IF_HELD
from storage.locks import Lease, Lock, Locks
from storage.scripts import Key, Script, runner
from storage.state import States

# Called only through ``accept_call`` (``Accept``; ``AcceptJoint`` outside a cluster).
# KEYS: accounts, profile, inbox, seen, lock, state, then (outside a cluster) the pending set,
# the account's key, the set of all customers and the desk's activity index. ARGV: now,
# account, has name ("1"/"0"), name, inbound json, de-duplication ttl s, lock token ("" = do
# not take), lock ttl ms, customer, "1" to create the customer for a new account (outside a
# cluster only).
# Returns false when the account is not (or no longer) the customer's, its customer when
# asked to create one for an account that has one (the caller then pushes to that customer),
# 0 for a repeat, {entry id} when pushed, {entry id, version, data, rows, left effects,
# refresh mark, kept replies} when the lock was taken too.
# An event pushed while the lock is held marks the lock (``storage.lock_scripts``: one "+"
# appended; its holder's release then reads the inbox, and only then).
# An account of the customer's is marked active by one ZADD that also proves it is theirs
# (XX: only a member; GT CH: 1 when its mark moved on); 0 needs a ZSCORE to tell "not theirs"
# from "marked later already" (another process's clock), and then the plain ZADD.
ACCEPT_LUA = f"""
local marked = false
if ARGV[10] == '1' then
  local owner = redis.call('GET', KEYS[8])
  if owner then return owner end
  redis.call('SET', KEYS[8], ARGV[9])
  redis.call('SADD', KEYS[9], ARGV[9])
elseif redis.call('ZADD', KEYS[1], 'XX', 'GT', 'CH', ARGV[1], ARGV[2]) == 1 then marked = true
elseif not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return false end
if not redis.call('SET', KEYS[4], 1, 'NX', 'EX', ARGV[6]) then return 0 end
if not marked then redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) end
if ARGV[3] == '1' then redis.call('HSETNX', KEYS[2], 'name', ARGV[4]) end
local id = redis.call('XADD', KEYS[3], '*', '{FIELD}', ARGV[5])
if KEYS[7] then redis.call('SADD', KEYS[7], ARGV[9]) end
if KEYS[10] then redis.call('ZADD', KEYS[10], ARGV[1], ARGV[9]) end
if ARGV[7] == '' then {MARK_IF_HELD.format(lock="KEYS[5]")}
elseif redis.call('SET', KEYS[5], ARGV[7], 'NX', 'PX', ARGV[8]) then
  local s = redis.call('HMGET', KEYS[6], 'v', 'd', 'fx', 'x', 'out')
  return {{id, s[1], s[2], redis.call('XRANGE', KEYS[3], '-', '+'), s[3], s[4], s[5]}}
else redis.call('APPEND', KEYS[5], '+') end
return {{id}}
"""

KNOWN_ACCOUNTS = 100_000  # account -> customer entries cached per process (~20 MB at most)
_MOVED, _REPEAT = "moved", "repeat"


@dataclass(slots=True)
class Push:
    """One accept of ``inbound`` into ``customer``'s inbox: the script's arguments (not
    frozen, like the script calls: built per message, see ``storage.scripts.Script``)."""

    customer: str
    dedupe_key: str
    inbound: Inbound
    token: str = ""  # a fresh lock token to take the lock with, or "" not to
    lock_ms: int = 0
    create: bool = False  # a new account: create the customer (outside a cluster only)
    named: bool = False  # the account's first display name is stored already


@dataclass(slots=True)
class Accept(Script):
    """The accept on a cluster: the customer's slot only (the pending set goes in the same
    pipeline)."""

    LUA: ClassVar[str] = ACCEPT_LUA
    accounts: Key
    profile: Key
    inbox: Key
    seen: Key
    lock: Key
    state: Key
    now: float
    account: str
    named: str
    name: str
    inbound: str
    dedupe_ttl: int
    token: str
    lock_ms: int
    customer: str
    create: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        call = _example(keys, joint=False)
        if not isinstance(call, cls):
            raise TypeError("accept_call(joint=False) builds a Accept")
        return call


@dataclass(slots=True)
class AcceptJoint(Script):
    """The accept outside a cluster: it also marks the customer pending and active, and can
    create the customer of a new account (the global keys: five slots in all)."""

    LUA: ClassVar[str] = ACCEPT_LUA
    SLOTS: ClassVar[int] = 5
    accounts: Key
    profile: Key
    inbox: Key
    seen: Key
    lock: Key
    state: Key
    pending: Key
    account_key: Key
    customers: Key
    active: Key
    now: float
    account: str
    named: str
    name: str
    inbound: str
    dedupe_ttl: int
    token: str
    lock_ms: int
    customer: str
    create: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        call = _example(keys, joint=True)
        if not isinstance(call, cls):
            raise TypeError("accept_call(joint=True) builds a AcceptJoint")
        return call


def accept_call(keys: Keys, push: Push, *, joint: bool) -> Accept | AcceptJoint:
    """``joint``: outside a cluster, where the script also writes the global keys."""
    c, inbound = push.customer, push.inbound
    name = inbound.name.strip() if inbound.name else ""
    named = "1" if inbound.name and not push.named else "0"
    create = "1" if push.create else "0"
    if not joint:
        return Accept(keys.accounts(c), keys.profile(c), keys.inbox(c),
                      keys.seen(c, push.dedupe_key), keys.lock(c), keys.state(c), time.time(),
                      inbound.account, named, name, encode_inbound(inbound), DEDUPE_TTL,
                      push.token, push.lock_ms, c, create)
    return AcceptJoint(keys.accounts(c), keys.profile(c), keys.inbox(c),
                       keys.seen(c, push.dedupe_key), keys.lock(c), keys.state(c), keys.pending,
                       keys.account(inbound.account), keys.customers, keys.desk_active,
                       time.time(),
                       inbound.account, named, name, encode_inbound(inbound), DEDUPE_TTL,
                       push.token, push.lock_ms, c, create)


def _example(keys: Keys, *, joint: bool) -> Accept | AcceptJoint:
    inbound = Inbound(channel="max", user_id="42", event_id="e1", event=TextEvent("привет"))
    return accept_call(keys, Push("c1", "max:e1", inbound, token="p.token", lock_ms=30_000),
                       joint=joint)


@dataclass(frozen=True, slots=True)
class _Owner:
    """The accept was asked to create a customer for an account that has one: this one."""

    customer: str


@dataclass(frozen=True, slots=True)
class Arrival:
    """What ``Intake.take`` made durable: the customer whose inbox holds the event, and the
    customer's lease when the lock was free (the caller processes the inbox, then releases)."""

    customer: str
    lease: Lease | None


class Intake:
    """``accept``: an inbound event made durable in its customer's inbox."""

    def __init__(
        self, redis: RedisClient, keys: Keys, *, identities: Identities, states: States,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._identities = identities
        self._locks: Locks = states.locks
        self._known: dict[str, str] = {}
        self._script = runner(redis, AcceptJoint, hot=True)
        # Outside a cluster the script also marks the customer pending: one EVALSHA, no
        # pipeline. A cluster keeps the pending set in another slot: a plain pipeline.
        self._joint = scripts_span_slots(redis)

    async def accept(self, dedupe_key: str, inbound: Inbound) -> str | None:
        """The customer whose inbox now holds ``inbound``; None when it was seen before
        (unless that first accept's answer never came: then the customer, to be processed)."""
        arrival = await self._accept(dedupe_key, inbound, take=False)
        return None if arrival is None else arrival.customer

    def known(self, account: str) -> str | None:
        """The customer this process last accepted ``account``'s events for, without a round
        trip (None: not seen here). A merge may have moved the account since: the next
        accept finds out and corrects it."""
        return self._known.get(account)

    async def take(self, dedupe_key: str, inbound: Inbound) -> Arrival | None:
        """``accept``, taking the customer's lock in the same step when it is free: the
        arrival carries the lease then."""
        return await self._accept(dedupe_key, inbound, take=True)

    @guarded
    async def _accept(self, dedupe_key: str, inbound: Inbound, *, take: bool) -> Arrival | None:
        account = inbound.account
        customer = self._known.get(account)
        known = customer is not None  # its first display name is stored already
        if customer is None and self._joint:  # create it in the same step, if it is new
            fresh = new_customer_id()
            pushed = await self._push(fresh, dedupe_key, inbound, take, create=True)
            if not isinstance(pushed, _Owner):
                put_bounded(self._known, account, fresh, KNOWN_ACCOUNTS)
                return pushed if isinstance(pushed, Arrival) else Arrival(fresh, None)
            customer = pushed.customer  # not new: pushed to its customer below
        elif customer is None:  # (on a cluster the account's key is in another slot)
            found = await self._redis.get(self._keys.account(account))
            customer = None if found is None else text(found)
        for _ in range(3):
            if customer is not None:
                pushed = await self._push(customer, dedupe_key, inbound, take, named=known)
                if pushed == _REPEAT:
                    # First accepted by a call whose answer never came: its lock may be
                    # left over, so the customer is processed (and the lock taken over) now.
                    return Arrival(customer, None) if self._locks.orphans.has(customer) else None
                if isinstance(pushed, Arrival):
                    put_bounded(self._known, account, customer, KNOWN_ACCOUNTS)
                    return pushed
                self._known.pop(account, None)
                if await self._redis.exists(self._keys.seen(customer, dedupe_key)):
                    return None  # accepted before a merge moved the account: a retry
            customer = await self._identities.resolve(account, name=inbound.name)
        raise StorageError(f"account {account} keeps moving between customers; retry later")

    async def _run(self, push: Push) -> object:
        call = accept_call(self._keys, push, joint=self._joint)
        if isinstance(call, AcceptJoint):
            return await self._script(call)
        pipe = self._redis.pipeline(transaction=False)
        call.queue(pipe)
        pipe.sadd(self._keys.pending, push.customer)  # other slots: no MULTI
        pipe.zadd(self._keys.desk_active, {push.customer: call.now})
        reply, _, _ = await pipe.execute()
        return reply

    async def _push(self, customer: str, dedupe_key: str, inbound: Inbound, take: bool, *,
                    create: bool = False, named: bool = False) -> Arrival | _Owner | str:
        """The arrival, or ``_MOVED`` / ``_REPEAT``, or (``create``) the account's customer
        when it has one already."""
        lock = Lock(customer, self._locks.new_token(), self._locks.lock_ttl) if take else None
        push = Push(customer, dedupe_key, inbound, create=create, named=named)
        if lock is not None:
            push.token, push.lock_ms = lock.token, lock.ttl_ms
        try:
            reply = await self._run(push)
        except BaseException as exc:
            if lock is not None and unanswered(exc):  # it may still run and take the lock
                self._locks.orphans.add(push.customer, lock.token)
            raise
        if reply is None:
            return _MOVED
        if isinstance(reply, bytes | str):
            return _Owner(text(reply))
        if not isinstance(reply, list):
            return _REPEAT
        if lock is None or len(reply) == 1:
            return Arrival(push.customer, None)
        self._locks.orphans.forget(push.customer)  # a fresh take: any older token's lock is gone
        return Arrival(push.customer, Lease.read(lock, reply[1:]))
