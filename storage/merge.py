"""Merging two customers, and how established each is (which decides who stays).

``merge`` moves accounts, history, profile fields, reminders, notices (``storage.notice_merge``)
and pending inbox entries of ``other`` into ``keep``, keeps ``keep``'s state and deletes
``other``'s lock, so a process still holding it gets ``LockLost`` on save instead of
resurrecting ``other``. A side that had something of its own (``Standing.established``) is
not shown to the other: every account of the receiving side gets a ``visible`` mark
(``Accounts.visible_from``) and the history before it is not replayed there. Who stays is
``storage.links.keeps_issuer``, on ``standing``.

This module must not decide when to merge (``storage.identity``'s ``confirm_link``; the
runtime asks) nor run flows.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from storage.accounts import Accounts
from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded, guarded_slow
from storage.history import History
from storage.inbox import Inbox
from storage.kept import Kept
from storage.keys import LINK_FRESH_MESSAGES, Keys
from storage.links import Standing
from storage.notice_merge import move_notices
from storage.profile import Profiles
from storage.reached import ReachedSteps
from storage.reminders import Reminders

log = logging.getLogger("svyaz.storage")

_NOT_TYPED = ("start", "link")  # history notes of inbound entries that are no typed message


class Merger:
    """Folds one customer into another."""

    def __init__(self, redis: RedisClient, keys: Keys, *, accounts: Accounts, history: History,
                 profiles: Profiles, reminders: Reminders, inbox: Inbox,
                 kept: Kept | None = None) -> None:
        self._redis = redis
        self._keys = keys
        self._accounts = accounts
        self._history = history
        self._profiles = profiles
        self._reminders = reminders
        self._inbox = inbox
        self._kept = kept

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

    @guarded_slow
    async def merge(self, keep: str, other: str) -> None:
        """Fold ``other`` into ``keep`` (see the module docstring); safe to re-run."""
        if keep == other:
            return
        await self._hide_pasts(keep, other)
        for info in await self._accounts.accounts(other):
            await self._accounts.attach(info.account, keep, info.last_active)
        await self._history.absorb(keep, other)
        await self._profiles.absorb(keep, other)
        await ReachedSteps(self._redis, self._keys).absorb(keep, other)
        await self._reminders.move(other, keep)
        await move_notices(self._redis, self._keys, other, keep)
        await self._inbox.move(other, keep)
        if routes := await self._accounts.routes(other):  # the accounts moved: routes go too
            await self._redis.hset(self._keys.routes(keep), mapping=dict[Any, Any](routes))
        if copies := await self._redis.hgetall(self._keys.files(other)):  # files they sent
            await self._redis.hset(self._keys.files(keep), mapping=dict[Any, Any](copies))
            await self._redis.zadd(self._keys.files_pending, {keep: 0}, nx=True)  # (settled
            # by the next sweep when none of them is pending)
        for key in await self._redis.smembers(self._keys.links(other)):
            await self._redis.delete(text(key))
        for key in await self._redis.smembers(self._keys.invites(other)):  # of a gone customer
            await self._redis.delete(text(key))
        for channel, sent in (await self._redis.hgetall(self._keys.invited(other))).items():
            await self._redis.hsetnx(self._keys.invited(keep), channel, sent)  # (never twice)
        await self._redis.sadd(self._keys.merged(keep), other)
        await self._redis.sadd(self._keys.customers, keep)
        await self._redis.srem(self._keys.customers, other)
        await self._redis.zrem(self._keys.desk_active, other)
        if self._kept is not None:  # a cut turn's replies (``storage.kept``): not with its state
            await self._kept.hand_on(other, keep)
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
                marks.update({info.account: now for info in await self._accounts.accounts(seer)})
        if marks:
            await self._redis.hset(self._keys.visible(keep), mapping=dict[Any, Any](marks))
