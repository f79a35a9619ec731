"""The outbox: every outgoing message is written before it is sent and acknowledged after.

Entries live in one hash (id -> JSON) with a lease sorted set (id -> last claimed, server time
in ms); both share the ``{outbox}`` hash tag, so the Lua scripts below touch one slot (each
called only through its typed call, ``Put``, ``Ack``...: ``storage.scripts``). ``put``
gives the writer the lease; if it dies before ``ack``, ``claim_stale`` hands the entry to exactly
one other caller once the lease is older than ``min_idle_ms`` (a re-send, never a loss); a
sender that waits long (a rate limiter's queue) renews it with ``touch``. The entry id is
stable across claims: use it as the message key; VK's ``random_id`` is ``random_id_for(
entry_id)``, so VK drops a re-send that had in fact gone through.

This module must not send anything.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Self

from flows.types import Channel, Reply
from storage.client import RedisClient
from storage.codec import channel, dumps, loads, reply_from_dict, reply_to_dict, text
from storage.errors import guarded, guarded_slow
from storage.keys import OUTBOX_LEASE_MS, Keys
from storage.scripts import Key, Script, Spread, runner

_NOW_MS = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

PUT_LUA = (
    _NOW_MS
    + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
return now
"""
)

# Leases ``ids`` that are still pending: {id, json, tries, ...}.
_TAKE_IDS = """
local out = {}
for _, id in ipairs(ids) do
  local j = redis.call('HGET', KEYS[1], id)
  if j then
    redis.call('ZADD', KEYS[2], now, id)
    local n = redis.call('HINCRBY', KEYS[3], id, 1)
    table.insert(out, id); table.insert(out, j); table.insert(out, n)
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
"""

CLAIM_LUA = (
    _NOW_MS
    + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[1]),
                       'LIMIT', 0, tonumber(ARGV[2]))
"""
    + _TAKE_IDS
)

CLAIM_IDS_LUA = _NOW_MS + "local ids = ARGV\n" + _TAKE_IDS

# Entries of a name never claimed since written (no tries): still leased by the writer, which
# is dead when its name is ours.
INHERIT_LUA = (
    _NOW_MS
    + """
local ids = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  if string.find(id, ARGV[1], 1, true) and not redis.call('HGET', KEYS[3], id) then
    table.insert(ids, id)
  end
end
"""
    + _TAKE_IDS
)

TOUCH_LUA = (
    _NOW_MS
    + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1])
return 1
"""
)

ACK_LUA = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
"""

_INT31 = 0x7FFFFFFF


def random_id_for(entry_id: str) -> int:
    """A stable positive int32 for VK's ``random_id`` from an outbox entry id."""
    digest = hashlib.blake2b(entry_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & _INT31 or 1


def new_entry_id(instance: str) -> str:
    """``<ms>-<name>-<random>``: in time order, named after the process that wrote it
    (storage.instance; ``take_over`` finds a dead predecessor's entries by the name)."""
    return f"{int(time.time() * 1000):013d}-{instance}-{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: str
    customer: str
    channel: Channel
    user_id: str
    reply: Reply
    created: float
    claims: int = 0  # how many times another process took it over

    @property
    def message_key(self) -> str:
        return self.id

    @property
    def random_id(self) -> int:
        return random_id_for(self.id)


class Prepared(NamedTuple):
    """An outbox entry ready to be written: its id and its stored JSON."""

    id: str
    json: str


def _encode(entry: OutboxEntry) -> str:
    return dumps(
        {
            "c": entry.customer,
            "ch": entry.channel,
            "u": entry.user_id,
            "r": reply_to_dict(entry.reply),
            "at": entry.created,
        }
    )


def _decode(entry_id: str, raw: bytes | str, claims: int = 0) -> OutboxEntry:
    data = loads(raw)
    return OutboxEntry(
        id=entry_id,
        customer=str(data["c"]),
        channel=channel(data["ch"]),
        user_id=str(data["u"]),
        reply=reply_from_dict(data["r"]),
        created=float(data["at"]),
        claims=claims,
    )


def _taken(flat: Any) -> list[OutboxEntry]:
    """The entries a script that ends with ``_TAKE_IDS`` leased: {id, json, tries, ...}."""
    return [
        _decode(text(flat[i]), flat[i + 1], int(flat[i + 2])) for i in range(0, len(flat), 3)
    ]


# One typed call per script (``storage.scripts``): the only way to run them.


@dataclass(frozen=True, slots=True)
class Put(Script):
    """``PUT_LUA``: write entry ``id`` and lease it to the writer; the server time (ms)."""

    LUA: ClassVar[str] = PUT_LUA
    data: Key
    lease: Key
    id: str
    json: str

    @classmethod
    def of(cls, keys: Keys, entry: Prepared) -> Self:
        return cls(keys.outbox_data, keys.outbox_lease, entry.id, entry.json)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, Prepared("1-a-b", "{}"))


@dataclass(frozen=True, slots=True)
class Claim(Script):
    """``CLAIM_LUA``: lease up to ``count`` entries idle for ``min_idle_ms``."""

    LUA: ClassVar[str] = CLAIM_LUA
    data: Key
    lease: Key
    tries: Key
    min_idle_ms: int
    count: int

    @classmethod
    def of(cls, keys: Keys, min_idle_ms: int, count: int) -> Self:
        return cls(keys.outbox_data, keys.outbox_lease, keys.outbox_tries, min_idle_ms, count)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, OUTBOX_LEASE_MS, 100)


@dataclass(frozen=True, slots=True)
class ClaimIds(Script):
    """``CLAIM_IDS_LUA``: lease those of ``ids`` still pending."""

    LUA: ClassVar[str] = CLAIM_IDS_LUA
    data: Key
    lease: Key
    tries: Key
    ids: Spread

    @classmethod
    def of(cls, keys: Keys, ids: Sequence[str]) -> Self:
        return cls(keys.outbox_data, keys.outbox_lease, keys.outbox_tries, tuple(ids))

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, ["1-a-b", "2-a-c"])


@dataclass(frozen=True, slots=True)
class Inherit(Script):
    """``INHERIT_LUA``: lease the never-claimed entries whose id holds ``marker``."""

    LUA: ClassVar[str] = INHERIT_LUA
    data: Key
    lease: Key
    tries: Key
    marker: str

    @classmethod
    def of(cls, keys: Keys, instance: str) -> Self:
        return cls(keys.outbox_data, keys.outbox_lease, keys.outbox_tries, f"-{instance}-")

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, "0123456789ab")


@dataclass(frozen=True, slots=True)
class Touch(Script):
    """``TOUCH_LUA``: renew the lease of pending entry ``id``; 0 if it is not pending."""

    LUA: ClassVar[str] = TOUCH_LUA
    data: Key
    lease: Key
    id: str

    @classmethod
    def of(cls, keys: Keys, entry_id: str) -> Self:
        return cls(keys.outbox_data, keys.outbox_lease, entry_id)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, "1-a-b")


@dataclass(frozen=True, slots=True)
class Ack(Script):
    """``ACK_LUA``: forget entry ``id``; 1 if it was pending."""

    LUA: ClassVar[str] = ACK_LUA
    data: Key
    lease: Key
    tries: Key
    id: str

    @classmethod
    def of(cls, keys: Keys, entry_id: str) -> Self:
        return cls(keys.outbox_data, keys.outbox_lease, keys.outbox_tries, entry_id)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, "1-a-b")


class Outbox:
    """Durable outgoing messages with leases."""

    def __init__(self, redis: RedisClient, keys: Keys, *, instance: str) -> None:
        self._redis = redis
        self._keys = keys
        self.instance = instance  # this process's name (``Store.instance``)
        self._put = runner(redis, Put)
        self._inherit = runner(redis, Inherit)
        self._claim = runner(redis, Claim)
        self._claim_ids = runner(redis, ClaimIds)
        self._ack = runner(redis, Ack)
        self._touch = runner(redis, Touch)

    def prepare(self, customer: str, channel: Channel, user_id: str, reply: Reply) -> Prepared:
        """An entry to be written by someone else's script (``States.save(outbox=...)``
        writes a turn's replies together with its state) or by ``put_prepared``."""
        entry = OutboxEntry(
            id=new_entry_id(self.instance),
            customer=customer,
            channel=channel,
            user_id=user_id,
            reply=reply,
            created=time.time(),
        )
        return Prepared(entry.id, _encode(entry))

    @guarded
    async def put(self, customer: str, channel: Channel, user_id: str, reply: Reply) -> str:
        """Persist a message about to be sent; returns its id (the message key)."""
        entry = self.prepare(customer, channel, user_id, reply)
        await self._put(Put.of(self._keys, entry))
        return entry.id

    @guarded
    async def put_prepared(self, entries: Sequence[Prepared]) -> None:
        """``put`` of prepared entries, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for entry in entries:
            Put.of(self._keys, entry).queue(pipe)
        await pipe.execute()

    @property
    def put_keys(self) -> list[str]:
        """The keys a script writing prepared entries declares (data, lease: ``Put``'s)."""
        return [self._keys.outbox_data, self._keys.outbox_lease]

    @guarded
    async def touch(self, entry_id: str) -> bool:
        """Renew the lease of an entry still being sent (e.g. queued behind a rate limiter),
        so ``claim_stale`` does not hand it to another process; False if it is not pending."""
        return bool(await self._touch(Touch.of(self._keys, entry_id)))

    @guarded
    async def ack(self, entry_id: str) -> bool:
        """The message was delivered (or given up on); False if it was not pending."""
        return bool(await self._ack(Ack.of(self._keys, entry_id)))

    def ack_to(self, pipe: Any, entry_id: str) -> None:
        """Queue ``ack`` on a plain pipeline (EVAL: a pipeline cannot reload a script)."""
        Ack.of(self._keys, entry_id).queue(pipe)

    @guarded
    async def claim_stale(
        self, min_idle_ms: int = OUTBOX_LEASE_MS, *, count: int = 100
    ) -> list[OutboxEntry]:
        """Take over entries nobody touched for ``min_idle_ms``; each goes to one caller."""
        flat = await self._claim(Claim.of(self._keys, min_idle_ms, count))
        return _taken(flat)

    @guarded_slow
    async def inherit(self) -> list[OutboxEntry]:
        """At start: take over the entries a dead process with this process's name wrote and
        never handed on (leased only by their writer: never claimed since), at once."""
        flat = await self._inherit(Inherit.of(self._keys, self.instance))
        return _taken(flat)

    @guarded
    async def claim(self, ids: Sequence[str]) -> list[OutboxEntry]:
        """Take over those of ``ids`` still pending, at once (whoever wrote them will not send
        them: its turn failed after the write)."""
        if not ids:
            return []
        flat = await self._claim_ids(ClaimIds.of(self._keys, ids))
        return _taken(flat)

    @guarded
    async def get(self, entry_id: str) -> OutboxEntry | None:
        raw = await self._redis.hget(self._keys.outbox_data, entry_id)
        return None if raw is None else _decode(entry_id, raw)

    @guarded
    async def pending(self) -> list[OutboxEntry]:
        raw = await self._redis.hgetall(self._keys.outbox_data)
        entries = [_decode(text(k), v) for k, v in raw.items()]
        return sorted(entries, key=lambda e: e.id)

    @guarded
    async def drop_customer(self, customer: str) -> int:
        """Remove a customer's unsent messages (erasure); how many were dropped."""
        dropped = 0
        for entry in await self.pending():
            if entry.customer == customer:
                dropped += await self.ack(entry.id)
        return dropped
