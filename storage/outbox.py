"""The outbox: every outgoing message is written before it is sent and acknowledged after.

Entries live in a hash (id -> JSON) with a lease sorted set (id -> last claimed, server time
in ms), in one of ``OUTBOX_SHARDS`` shards: a customer's entries always in the same one
(``shard_of``, so its replies are re-sent in order), the shard named at the end of the entry's
id (``-o<n>``, so an ack needs only the id). Each shard's keys share its ``{outbox:<n>}`` hash
tag, so its Lua scripts touch one slot and a Redis Cluster spreads the shards over its nodes
(the scripts and their typed calls, ``Put``, ``Ack``..., are in ``storage.outbox_scripts``).
Ids without a shard are older versions' entries, in the single ``{outbox}`` set, still swept
and acknowledged there. ``put``
gives the writer the lease; if it dies before ``ack``, ``claim_stale`` hands the entry to exactly
one other caller once the lease is older than ``min_idle_ms`` (a re-send, never a loss); a
sender that waits long (a rate limiter's queue) renews it with ``touch``. The entry id is
stable across claims: it is the message key (``connectors.base``), from which VK's
``random_id`` derives (``connectors.vk.render.random_id``), so VK drops a re-send that had in
fact gone through.

This module must not send anything.
"""

from __future__ import annotations

import secrets
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from flows.types import Channel, Reply
from storage.client import RedisClient
from storage.codec import channel, dumps, loads, reply_from_dict, reply_to_dict, text
from storage.errors import guarded, guarded_slow
from storage.keyparts import OutboxKeys
from storage.keys import OUTBOX_LEASE_MS, OUTBOX_SHARDS, Keys
from storage.outbox_scripts import MARK, Ack, Claim, ClaimIds, Inherit, Posting, Put, Touch
from storage.scripts import runner

# An entry younger than this cannot have been claimed by a re-send (``maybe_claimed``).
UNCLAIMED_MS = 30_000


def new_entry_id(instance: str, shard: int | None = None) -> str:
    """``<ms>-<name>-<random>-o<shard>``: in time order, named after the process that wrote it
    (storage.instance; ``take_over`` finds a dead predecessor's entries by the name) and
    after its shard (none: an older version's id)."""
    stem = f"{int(time.time() * 1000):013d}-{instance}-{secrets.token_hex(6)}"
    return stem if shard is None else f"{stem}-o{shard}"


def maybe_claimed(ids: Sequence[str], now: float | None = None) -> bool:
    """Whether a re-send may have claimed one of ``ids`` (and counted it in ``tries``):
    only an entry written ``UNCLAIMED_MS`` ago or more can have been, since a claim takes
    entries idle for a minute (``bots.delivery.STALE_OUTBOX_MS``; a send in progress
    renews its lease) or a failed turn's own, which no release acknowledges. An id
    without its time (``new_entry_id``) counts as claimed."""
    ms = (time.time() if now is None else now) * 1000
    for entry_id in ids:
        stem = entry_id.partition("-")[0]
        if not stem.isdigit() or ms - int(stem) >= UNCLAIMED_MS:
            return True
    return False


def shard_of(customer: str) -> int:
    """The shard of a customer's entries (stable across processes and restarts)."""
    return zlib.crc32(customer.encode()) % OUTBOX_SHARDS


def every_shard(keys: Keys) -> list[OutboxKeys]:
    """Every shard's keys, the older versions' single set first."""
    return [keys.outbox(None)] + [keys.outbox(n) for n in range(OUTBOX_SHARDS)]


def shard_in(entry_id: str) -> int | None:
    """The shard an entry id names; None for an older version's id (the single set)."""
    tail = entry_id.rpartition("-")[2]
    return int(tail[1:]) if tail[:1] == "o" and tail[1:].isdigit() else None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: str
    customer: str
    channel: Channel
    user_id: str
    reply: Reply
    created: float
    claims: int = 0  # how many times another process took it over



class Prepared(NamedTuple):
    """An outbox entry ready to be written: its id and its stored JSON."""

    id: str
    json: str


def encode_entry(entry: OutboxEntry) -> str:
    """An entry's stored JSON (``Prepared.json``)."""
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
    return entry_of(entry_id, loads(raw), claims)


def entry_of(entry_id: str, data: Any, claims: int = 0) -> OutboxEntry:
    """An entry from its decoded JSON (``storage.kept`` keeps a turn's in the state)."""
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
    """The entries a claim leased (``storage.outbox_scripts``' ``_TAKE_IDS``): {id, json,
    tries, ...}."""
    return [
        _decode(text(flat[i]), flat[i + 1], int(flat[i + 2])) for i in range(0, len(flat), 3)
    ]


class Posts:
    """When pending entries were last about to be posted, for a platform that cannot drop a
    repeated message (``bots.posting``); beside the entry in the shard's data hash as
    ``p:<id>``, which the ack's HDEL of the entry removes with it. The time is the posting
    process's clock: no ``TIME`` in the mark's script (``bots.posting.CLOCK_SKEW`` allows for
    the hosts' clocks)."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        # hot: just before each post, so many customers' marks share a pipeline under load
        self._posting = runner(redis, Posting, hot=True)

    @guarded
    async def posting(self, entry_id: str) -> None:
        """Mark that ``entry_id`` is being posted now, just before the request goes out."""
        keys = self._keys.outbox(shard_in(entry_id))
        await self._posting(Posting.of(keys, entry_id, int(time.time() * 1000)))

    @guarded
    async def posted(self, entry_id: str) -> float | None:
        """When ``entry_id`` was last about to be posted (epoch seconds, the posting process's
        clock); None if never (or by a version that did not mark it)."""
        found = await self._redis.hget(self._keys.outbox(shard_in(entry_id)).data,
                                       f"{MARK}{entry_id}")
        return None if found is None else int(found) / 1000


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
        self.posts = Posts(redis, keys)  # when entries went out (``bots.posting``)

    def prepare(self, customer: str, channel: Channel, user_id: str, reply: Reply) -> Prepared:
        """An entry to be written by someone else's script (``States.save(outbox=...)``
        writes a turn's replies together with its state) or by ``put_prepared``."""
        entry = OutboxEntry(
            id=new_entry_id(self.instance, shard_of(customer)),
            customer=customer,
            channel=channel,
            user_id=user_id,
            reply=reply,
            created=time.time(),
        )
        return Prepared(entry.id, encode_entry(entry))

    def keys_of(self, entry_id: str) -> OutboxKeys:
        """The keys of the shard holding ``entry_id``."""
        return self._keys.outbox(shard_in(entry_id))

    @guarded
    async def put(self, customer: str, channel: Channel, user_id: str, reply: Reply) -> str:
        """Persist a message about to be sent; returns its id (the message key)."""
        entry = self.prepare(customer, channel, user_id, reply)
        await self._put(Put.of(self.keys_of(entry.id), *entry))
        return entry.id

    @guarded
    async def put_prepared(self, entries: Sequence[Prepared]) -> None:
        """``put`` of prepared entries, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for entry in entries:
            Put.of(self.keys_of(entry.id), *entry).queue(pipe)
        await pipe.execute()

    def put_keys(self, entries: Sequence[Prepared]) -> list[str] | None:
        """The keys a script writing ``entries`` declares (data, lease: ``Put``'s) when they
        are all in one shard, else None (written apart: ``put_prepared``)."""
        shards = {shard_in(entry.id) for entry in entries}
        if len(shards) != 1:
            return None
        keys = self._keys.outbox(shards.pop())
        return [keys.data, keys.lease]

    @guarded
    async def touch(self, entry_id: str) -> bool:
        """Renew the lease of an entry still being sent (e.g. queued behind a rate limiter),
        so ``claim_stale`` does not hand it to another process; False if it is not pending."""
        return bool(await self._touch(Touch.of(self.keys_of(entry_id), entry_id)))

    @guarded
    async def ack(self, entry_id: str) -> bool:
        """The message was delivered (or given up on); False if it was not pending."""
        return bool(await self._ack(Ack.of(self.keys_of(entry_id), entry_id)))

    def ack_to(self, pipe: Any, entry_id: str) -> None:
        """Queue ``ack`` on a plain pipeline (EVAL: a pipeline cannot reload a script)."""
        Ack.of(self.keys_of(entry_id), entry_id).queue(pipe)

    @guarded
    async def claim_stale(
        self, min_idle_ms: int = OUTBOX_LEASE_MS, *, count: int = 100
    ) -> list[OutboxEntry]:
        """Take over entries nobody touched for ``min_idle_ms``, at most ``count``, oldest
        first within a shard; each goes to one caller."""
        taken: list[OutboxEntry] = []
        for keys in every_shard(self._keys):
            if len(taken) >= count:
                break
            flat = await self._claim(Claim.of(keys, min_idle_ms, count - len(taken)))
            taken += _taken(flat)
        return taken

    @guarded_slow
    async def inherit(self) -> list[OutboxEntry]:
        """At start: take over the entries a dead process with this process's name wrote and
        never handed on (leased only by their writer: never claimed since), at once."""
        found: list[OutboxEntry] = []
        for keys in every_shard(self._keys):
            found += _taken(await self._inherit(Inherit.of(keys, self.instance)))
        return found

    @guarded
    async def claim(self, ids: Sequence[str]) -> list[OutboxEntry]:
        """Take over those of ``ids`` still pending, at once (whoever wrote them will not send
        them: its turn failed after the write)."""
        by_shard: dict[int | None, list[str]] = {}
        for entry_id in ids:
            by_shard.setdefault(shard_in(entry_id), []).append(entry_id)
        taken: list[OutboxEntry] = []
        for shard, some in by_shard.items():
            taken += _taken(await self._claim_ids(ClaimIds.of(self._keys.outbox(shard), some)))
        return taken

    @guarded
    async def get(self, entry_id: str) -> OutboxEntry | None:
        raw = await self._redis.hget(self.keys_of(entry_id).data, entry_id)
        return None if raw is None else _decode(entry_id, raw)

    @guarded
    async def pending(self) -> list[OutboxEntry]:
        entries: list[OutboxEntry] = []
        for keys in every_shard(self._keys):
            raw = await self._redis.hgetall(keys.data)
            entries += [_decode(key, v) for k, v in raw.items()
                        if not (key := text(k)).startswith(MARK)]  # (not a post's mark)
        return sorted(entries, key=lambda e: e.id)

    @guarded_slow
    async def drop_customer(self, customer: str) -> int:
        """Remove a customer's unsent messages (erasure); how many were dropped."""
        dropped = 0
        for entry in await self.pending():
            if entry.customer == customer:
                dropped += await self.ack(entry.id)
        return dropped
