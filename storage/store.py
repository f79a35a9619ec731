"""The storage facade: one ``Store`` per bot namespace, holding every storage part.

``Store(redis, bot=...)`` takes any redis.asyncio client — a plain ``Redis``, a Sentinel master
or a ``RedisCluster`` (no command spans two customers' slots) — and ``Store.from_url`` builds
one (see ``storage.client`` for URL forms); ``connect`` and ``open_store`` below also start the
embedded Redis when there is no URL.
Erasure (``forget``) lives here because it touches every part.

This module must not contain business rules of any single part.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio.cluster import RedisCluster

from storage.audience import Audience
from storage.broadcasts import Broadcasts
from storage.client import RedisClient, close_redis, make_redis
from storage.codec import text
from storage.dedupe import Dedupe
from storage.desk import Desk
from storage.embedded import EmbeddedRedis
from storage.errors import guarded, guarded_slow
from storage.files import Files
from storage.funnel import Funnel
from storage.history import History, HistoryEntry
from storage.identity import Identities
from storage.inbox import Inbox
from storage.incidents import Incidents
from storage.instance import Instance
from storage.intake import Intake
from storage.invites import InviteSends
from storage.kept import Kept
from storage.keys import (
    HISTORY_MAX_AGE,
    HISTORY_MAXLEN,
    LINK_CODE_TTL,
    LINK_TOKEN_TTL,
    LOCK_TTL,
    LOCK_WAIT,
    STATE_TTL,
    Keys,
)
from storage.locks import Lock, idle_rows
from storage.notices import Notices
from storage.outbox import Outbox
from storage.profile import Profiles
from storage.reached import ReachedSteps
from storage.reminders import Reminders
from storage.state import States

__all__ = ["Store", "connect", "open_store"]

HEALTH_KEY_MS = 60_000

log = logging.getLogger("svyaz.storage")


@dataclass(frozen=True, slots=True)
class Sent:
    """A reply handed to its channel whose outbox entry is still to be acknowledged (and
    its history entry recorded) with the turn's next round trip."""

    entry_id: str
    customer: str
    history: HistoryEntry
    kept: bool = False  # kept in the customer's state (``storage.kept``), not in the outbox


class Store:
    """Every storage part of one bot, sharing one Redis client."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        bot: str = "main",
        state_ttl: int = STATE_TTL,
        lock_ttl: float = LOCK_TTL,
        lock_wait: float = LOCK_WAIT,
        history_maxlen: int | None = HISTORY_MAXLEN,
        history_max_age: float | None = HISTORY_MAX_AGE,
        link_token_ttl: int = LINK_TOKEN_TTL,
        link_code_ttl: int = LINK_CODE_TTL,
        instance: str = "",
        files_dir: Path | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys = Keys(bot)
        # This process's name (storage.instance) in lock tokens and outbox ids: random
        # unless a data folder slot gave one that a dead predecessor used.
        self.instance = instance or Instance.passing().name
        self.inbox = Inbox(redis, keys)
        self.history = History(redis, keys, maxlen=history_maxlen, max_age=history_max_age)
        self.outbox = Outbox(redis, keys, instance=self.instance)
        self.kept = Kept(redis, keys, self.outbox)  # a turn's replies, in its state
        self.states = States(redis, keys, history=self.history, outbox=self.outbox,
                             state_ttl=state_ttl, lock_ttl=lock_ttl, lock_wait=lock_wait,
                             instance=self.instance)
        self._plain_parts(redis, keys)
        # Copies of files customers sent: under the data folder (``connect`` sets it).
        self.files = Files(redis, keys, folder=(files_dir or Path("data") / "files") / bot)
        self.identities = Identities(redis, keys, history=self.history, profiles=self.profiles,
                                     reminders=self.reminders, inbox=self.inbox,
                                     kept=self.kept, link_token_ttl=link_token_ttl,
                                     link_code_ttl=link_code_ttl)
        self.intake = Intake(redis, keys, identities=self.identities, states=self.states)
        self.history.bind_forget(self.forget)

    def _plain_parts(self, redis: RedisClient, keys: Keys) -> None:
        """The parts that need only the client and the names."""
        self.profiles, self.reminders = Profiles(redis, keys), Reminders(redis, keys)
        self.dedupe, self.notices = Dedupe(redis, keys), Notices(redis, keys)
        self.audience = Audience(redis, keys)  # segments' facts of every customer
        self.broadcasts = Broadcasts(redis, keys)
        self.incidents = Incidents(redis, keys)
        self.desk = Desk(redis, keys)  # the operator desk's records (bots.desk)
        self.funnel = Funnel(redis, keys)  # the funnel's daily counts (storage.funnel)
        self.reached = ReachedSteps(redis, keys)  # the steps each customer reached
        self.invite_sends = InviteSends(redis, keys)  # invitations sent by SMS / e-mail

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Store:
        return cls(make_redis(url), **options)

    @guarded
    async def ready(self) -> None:
        """Connect now; a cluster client must load its slot map before concurrent use
        (redis-py's lazy cluster start-up races when many commands arrive at once)."""
        if isinstance(self.redis, RedisCluster):
            await self.redis.initialize()
        await self.redis.ping()

    @guarded
    async def delivered(self, entry_id: str, customer: str, entry: HistoryEntry) -> bool:
        """Acknowledge outbox entry ``entry_id`` and record the message in the customer's
        history, in one round trip (a plain pipeline: two slots). False if it was not pending."""
        pipe = self.redis.pipeline(transaction=False)
        self.outbox.ack_to(pipe, entry_id)
        self.history.append_to(pipe, customer, entry)
        acked, *_ = await pipe.execute()
        return bool(acked)

    # A turn's sent replies are acknowledged together with its next lock operation: one
    # round trip (a plain pipeline; the lock script and the history share the customer's slot,
    # so they run in this order on a cluster too). ``sent`` is emptied once done.

    @guarded
    async def acknowledge(self, sent: list[Sent], *, extend: Lock | None = None) -> None:
        """Acknowledge ``sent`` (and extend ``extend``, when given)."""
        if not sent and extend is None:
            return
        pipe = self._queue(sent)
        if extend is not None:
            self.states.locks.extend_to(pipe, extend)
        await pipe.execute()
        sent.clear()

    @guarded
    async def release_if_idle(
        self, lock: Lock, sent: list[Sent], *, effects: bool = True, gone: Sequence[str] = ()
    ) -> list[tuple[str, dict[str, str]]] | None:
        """Record ``sent`` (acknowledging those in the outbox), delete ``gone`` (the turn's
        kept replies, ``storage.kept.gone``) once the lock proves ours, then
        ``Locks.release_if_idle`` (None: released; the rows that arrived meanwhile; ``[]``:
        the lock was no longer ours): one script in the customer's slot when every reply is
        one kept by the lock's customer (the steady path), else a plain pipeline first.
        ``effects``: False when the caller knows the state holds no turn's effects."""
        customer = lock.customer
        if all(item.kept and item.customer == customer for item in sent):
            acked = [self.history.script_args(item.history)[1:] for item in sent]  # (no trim)
            rows = await self.states.locks.release_acked(lock, acked, effects=effects,
                                                         gone=gone)
            sent.clear()
            return rows
        pipe = self._queue(sent)
        self.states.locks.release_if_idle_to(pipe, lock, effects=effects, gone=gone)
        replies = await pipe.execute()
        sent.clear()
        return idle_rows(replies[-1])

    @guarded
    async def release(self, lock: Lock, sent: list[Sent]) -> None:
        """Acknowledge ``sent``, then release ``lock`` (if still ours); kept replies not all
        sent stay in the state, for the next lease to re-send."""
        pipe = self._queue(sent)
        self.states.locks.release_to(pipe, lock)
        await pipe.execute()
        sent.clear()

    def _queue(self, sent: list[Sent]) -> Any:
        pipe = self.redis.pipeline(transaction=False)
        kept: dict[str, list[str]] = {}
        for item in sent:  # the turn's save trimmed the history by age a moment ago
            if item.kept:
                kept.setdefault(item.customer, []).append(item.entry_id)
            else:
                self.outbox.ack_to(pipe, item.entry_id)
            self.history.append_to(pipe, item.customer, item.history, trim=False)
        for customer, ids in kept.items():
            self.kept.ack_to(pipe, customer, ids)
        return pipe

    @guarded
    async def probe(self) -> None:
        """For /healthz: one small write, which a full, read-only or unsaving Redis refuses
        (``StorageUnavailable`` saying why) though it still answers PING."""
        await self.redis.set(self.keys.health, b"1", px=HEALTH_KEY_MS)

    @guarded_slow
    async def forget(self, customer: str) -> list[str]:
        """Erase every key of ``customer`` and every global key pointing at them (152-FZ).

        Returns the reminder keys that were indexed, so the caller cancels those jobs.
        """
        for info in await self.identities.accounts(customer):
            await self.identities.detach(info.account, customer)
        await self.profiles.erase(customer)
        for key in await self.redis.smembers(self.keys.links(customer)):
            await self.redis.delete(text(key))
        await self.identities.invitations.erase(customer)
        reminders = await self.reminders.clear(customer)
        await self.outbox.drop_customer(customer)
        await self.notices.erase(customer)  # with its global indexes and SMS counters
        await self.desk.handoffs.forget(customer)  # (its audit records stay: ids only)
        await self.files.erase(customer)  # the copies on disk, before their index goes
        await self.broadcasts.forget(customer)  # recipient lists; the counters stay
        await self.redis.delete(*self.keys.customer_keys(customer))
        # Other parts keep their own keys under the customer's tag (the scheduler) or with the
        # id in the name (bot-initiated de-duplication keys): one scan of the namespace.
        async for key in self.redis.scan_iter(match=self.keys.mentioning(customer), count=1000):
            await self.redis.delete(key)
        await self.redis.srem(self.keys.customers, customer)
        await self.inbox.settle(customer, 0)
        log.info("customer %s erased (%d reminder keys to cancel)", customer, len(reminders))
        return reminders

    async def close(self) -> None:
        await close_redis(self.redis)


async def connect(
    url: str | None, data_dir: Path | str, *, maxmemory: str | None = None, **store_options: Any
) -> tuple[Store, EmbeddedRedis | None]:
    """A ``Store`` for ``url`` (``storage.client``'s forms); without one, start the embedded
    Redis under ``data_dir`` (capped at ``maxmemory``, else ``storage.embedded``'s default).

    The caller stops the returned ``EmbeddedRedis`` (``await asyncio.to_thread(e.stop)``)
    after ``await store.close()``; ``open_store`` does both.
    """
    embedded = None
    if not url:
        embedded = (EmbeddedRedis(Path(data_dir)) if maxmemory is None
                    else EmbeddedRedis(Path(data_dir), maxmemory=maxmemory))
        url = await asyncio.to_thread(embedded.start)
    store_options.setdefault("files_dir", Path(data_dir) / "files")
    store = Store(make_redis(url), **store_options)
    await store.ready()
    return store, embedded


@asynccontextmanager
async def open_store(
    url: str | None, data_dir: Path | str, **store_options: Any
) -> AsyncIterator[Store]:
    store, embedded = await connect(url, data_dir, **store_options)  # (maxmemory too)
    try:
        yield store
    finally:
        await store.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
