"""Accepting an inbound event: de-duplicate, resolve the customer, push to the inbox — cheaply.

The hot path of every webhook. For an account this process has seen before it costs one round
trip: on Redis Cluster a plain (non-transactional) pipeline, elsewhere one script, of

1. one Lua script in the customer's slot — check the account still belongs to the customer
   (a merge moves it), de-duplicate the platform's event id (``SET NX EX`` of a key under the
   customer's tag), mark the account active, keep the first display name, push the event to
   the inbox and, with ``take``, take the customer's lock and read state and inbox (what
   ``States.acquire`` would do next, in the same step);
2. ``SADD`` of the customer to the global pending set.

The account -> customer map is cached in the process: the script's ownership check catches a
stale entry, which then takes the slow path. An unknown account costs one ``GET`` more; a new
account is created by the same script (on a cluster, and for one a merge just moved, through
``Identities.resolve``). The script writes
nothing unless it accepts, so a failed accept leaves nothing behind for the platform's retry
to trip over. This module must not process events.
"""

from __future__ import annotations

import time

from flows.types import Inbound
from storage.bounded import put_bounded
from storage.client import RedisClient, hot_script, scripts_span_slots
from storage.codec import encode_inbound, text
from storage.errors import StorageError, guarded, unanswered
from storage.identity import Identities, new_customer_id
from storage.inbox import FIELD, Inbox
from storage.keys import DEDUPE_TTL, Keys
from storage.state import States

# KEYS: accounts, profile, inbox, seen, lock, state, then (outside a cluster) the pending set,
# the account's key and the set of all customers. ARGV: now, account, has name ("1"/"0"),
# name, inbound json, de-duplication ttl s, lock token ("" = do not take), lock ttl ms,
# customer, "1" to create the customer for a new account (outside a cluster only).
# Returns false when the account is not (or no longer) the customer's, 0 for a repeat,
# {entry id} when pushed, {entry id, version, data, rows, left effects} when the lock was
# taken too.
ACCEPT_LUA = f"""
if ARGV[10] == '1' then
  if not redis.call('SET', KEYS[8], ARGV[9], 'NX') then return false end
  redis.call('SADD', KEYS[9], ARGV[9])
elseif not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return false end
if not redis.call('SET', KEYS[4], 1, 'NX', 'EX', ARGV[6]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '1' then redis.call('HSETNX', KEYS[2], 'name', ARGV[4]) end
local id = redis.call('XADD', KEYS[3], '*', '{FIELD}', ARGV[5])
if KEYS[7] then redis.call('SADD', KEYS[7], ARGV[9]) end
if ARGV[7] ~= '' and redis.call('SET', KEYS[5], ARGV[7], 'NX', 'PX', ARGV[8]) then
  local s = redis.call('HMGET', KEYS[6], 'v', 'd', 'fx')
  return {{id, s[1], s[2], redis.call('XRANGE', KEYS[3], '-', '+'), s[3]}}
end
return {{id}}
"""

KNOWN_ACCOUNTS = 100_000  # account -> customer entries cached per process (~20 MB at most)
_MOVED, _REPEAT = "moved", "repeat"


class Intake:
    """``accept``: an inbound event made durable in its customer's inbox."""

    def __init__(
        self, redis: RedisClient, keys: Keys, *, identities: Identities, inbox: Inbox,
        states: States,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._identities = identities
        self._inbox = inbox
        self._states = states
        self._known: dict[str, str] = {}
        self._accept = hot_script(redis, ACCEPT_LUA)
        # Outside a cluster the script also marks the customer pending: one EVALSHA, no
        # pipeline. A cluster keeps the pending set in another slot: a plain pipeline.
        self._joint = scripts_span_slots(redis)

    @guarded
    async def accept(self, dedupe_key: str, inbound: Inbound, *, take: bool = False) -> str | None:
        """The customer whose inbox now holds ``inbound``; None when it was seen before
        (unless that first accept's answer never came: then the customer, to be processed).

        With ``take``, the customer's lock is taken in the same step when it is free; the
        caller gets it from ``States.taken`` (and must process the inbox or release it)."""
        account = inbound.account
        customer = self._known.get(account)
        known = customer is not None  # its first display name is stored already
        if customer is None:
            found = await self._redis.get(self._keys.account(account))
            customer = None if found is None else text(found)
            if customer is None and self._joint:  # a new account: create in the same step
                fresh = new_customer_id()
                outcome = await self._push(fresh, dedupe_key, inbound, take, create=True)
                if outcome != _MOVED:  # (moved: created by someone else meanwhile)
                    put_bounded(self._known, account, fresh, KNOWN_ACCOUNTS)
                    return fresh
        for _ in range(3):
            if customer is not None:
                outcome = await self._push(customer, dedupe_key, inbound, take, named=known)
                if outcome == _REPEAT:
                    # First accepted by a call whose answer never came: its lock may be
                    # left over, so the customer is processed (and the lock taken over) now.
                    return customer if self._states.has_orphan(customer) else None
                if outcome != _MOVED:
                    put_bounded(self._known, account, customer, KNOWN_ACCOUNTS)
                    return customer
                self._known.pop(account, None)
                if await self._redis.exists(self._keys.seen(customer, dedupe_key)):
                    return None  # accepted before a merge moved the account: a retry
            customer = await self._identities.resolve(account, name=inbound.name)
        raise StorageError(f"account {account} keeps moving between customers; retry later")

    async def _run(self, customer: str, account: str, keys: list[str],
                   args: list[str | float | int]) -> object:
        if self._joint:
            keys = [*keys, self._keys.pending, self._keys.account(account),
                    self._keys.customers]
            return await self._accept(keys=keys, args=args)
        pipe = self._redis.pipeline(transaction=False)
        pipe.eval(ACCEPT_LUA, len(keys), *keys, *args)  # EVAL: no NOSCRIPT in a pipeline
        pipe.sadd(self._keys.pending, customer)  # another slot: no MULTI
        reply, _ = await pipe.execute()
        return reply


    async def _push(
        self, customer: str, dedupe_key: str, inbound: Inbound, take: bool, *,
        create: bool = False, named: bool = False,
    ) -> str:
        keys = [self._keys.accounts(customer), self._keys.profile(customer),
                self._keys.inbox(customer), self._keys.seen(customer, dedupe_key),
                self._keys.lock(customer), self._keys.state(customer)]
        name = inbound.name.strip() if inbound.name else ""
        token = self._states.new_token() if take else ""
        args: list[str | float | int] = [
            time.time(), inbound.account, "1" if inbound.name and not named else "0", name,
            encode_inbound(inbound), DEDUPE_TTL, token, self._states.lock_ttl_ms, customer,
            "1" if create else "0",
        ]
        self._inbox.drop_prefetched(customer)
        try:
            reply = await self._run(customer, inbound.account, keys, args)
        except BaseException as exc:
            if take and unanswered(exc):  # it may still run and take the lock: keep the token
                self._states.orphaned(customer, token)
            raise
        if reply is None:
            return _MOVED
        if not isinstance(reply, list):
            return _REPEAT
        if len(reply) > 1:
            self._states.adopt(customer, token, list(reply[1:]))
        return text(reply[0])
