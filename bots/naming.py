"""Customers' names from the platform, for channels whose updates carry none (VK: ``from_id``).

A MAX update names its sender and the accept keeps that name (``storage.intake``). For a
channel whose connector can look names up (``NameSource``: VK's ``users.get``), ``Namer.note``
is called after the accept: it only queues the account (nothing on the reply's path waits
for it), and a task beside the turns asks the platform for the names of every queued account
at once (several accounts arriving together share one request, in the platform limiter's
bulk lane) and keeps each where a MAX name goes (``Profiles.platform_name``: the profile's
``name``, unless the customer has one, e.g. given in a flow; only while the account is still
the customer's). The desk's list and card, the hand-off note, search, ``svyaz export`` and
``svyaz forget`` read that field.

Each account is asked once per process: a named account is remembered (a new process first
asks Redis whether the customer has a name, and asks the platform only if not); one whose
name could not be had (the platform failing or refusing, a deleted profile) is not asked
again before ``RETRY_AFTER``. Names are never logged. This module must not send messages.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable

from connectors.base import ChannelError
from flows.types import Inbound
from storage.bounded import put_bounded
from storage.errors import StorageError
from storage.profile import Profiles

log = logging.getLogger("svyaz.bots")

RETRY_AFTER = 15 * 60.0  # seconds before an account whose name was not had is asked again
GATHER = 0.05  # seconds the task waits for more accounts arriving together
KNOWN = 100_000  # accounts remembered per process (asked, named)
NAMED = math.inf


@runtime_checkable
class NameSource(Protocol):
    """A connector that can tell the names its platform shows for user ids (``VkConnector``)."""

    async def names(self, user_ids: tuple[str, ...]) -> dict[str, str]:
        """user id -> name for those that have one; a ``ChannelError`` when it cannot tell."""


Queued = dict[str, tuple[str, str]]  # user id -> (account, customer)


class Namer:
    """Looks up and keeps the platform's names of new accounts, in the background."""

    def __init__(self, profiles: Profiles, sources: Mapping[str, NameSource], *,
                 retry_after: float = RETRY_AFTER, gather: float = GATHER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._profiles = profiles
        self._sources = dict(sources)
        self._retry_after = retry_after
        self._gather = gather
        self._clock = clock
        self._due: dict[str, float] = {}  # account -> when it may be asked (NAMED: never)
        self._queued: dict[str, Queued] = {}  # channel -> the accounts to ask about
        self._under_way: set[str] = set()  # customers queued or being asked about
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, profiles: Profiles, connectors: Mapping[str, object]) -> Namer:
        """A namer asking those of ``connectors`` that can look names up."""
        return cls(profiles, {channel: connector for channel, connector in connectors.items()
                              if isinstance(connector, NameSource)})

    def note(self, customer: str, inbound: Inbound) -> None:
        """``inbound`` was accepted for ``customer``: look its account's name up if need be."""
        account = inbound.account
        if inbound.name or inbound.channel not in self._sources \
                or self._due.get(account, 0.0) > self._clock():
            return
        self._queued.setdefault(inbound.channel, {})[inbound.user_id] = (account, customer)
        self._under_way.add(customer)
        self._later((account,))  # asked now: not queued again meanwhile
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="platform-names")
            self._task.add_done_callback(_report_crash)

    async def settled(self, customer: str, within: float) -> None:
        """Returns once ``customer``'s name is no longer being looked up, or after ``within``
        seconds (the lookup goes on): a hand-off note on a customer's first message waits
        this long for the name (``bots.desk.notes``); at once for anyone else."""
        task = self._task
        if customer in self._under_way and task is not None and not task.done():
            await asyncio.wait((task,), timeout=within)

    async def idle(self) -> None:
        """Returns once every queued account was asked about (tests)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _drain(self) -> None:
        await asyncio.sleep(self._gather)
        while self._queued:
            channel, queued = self._queued.popitem()
            try:
                await self._name(channel, queued)
            finally:
                self._under_way.difference_update(c for _, c in queued.values())

    async def _name(self, channel: str, queued: Queued) -> None:
        try:
            ask = await self._unnamed(queued)
            if not ask:
                return
            found = await self._sources[channel].names(tuple(ask))
        except (ChannelError, StorageError, TimeoutError) as exc:
            log.warning("%s: %d customer names not looked up (%s); asked again later",
                        channel, len(queued), type(exc).__name__)
            self._later(account for account, _ in queued.values())
            return
        for user_id, (account, customer) in ask.items():
            await self._keep(customer, account, found.get(user_id))

    async def _unnamed(self, queued: Queued) -> Queued:
        """The queued accounts whose customer has no name yet (the others are done)."""
        named = await self._profiles.named([customer for _, customer in queued.values()])
        ask: Queued = {}
        for (user_id, (account, customer)), has in zip(queued.items(), named, strict=True):
            if has:
                put_bounded(self._due, account, NAMED, KNOWN)
            else:
                ask[user_id] = (account, customer)
        return ask

    async def _keep(self, customer: str, account: str, name: str | None) -> None:
        if name is None:  # a deleted or banned profile, or not found: perhaps later
            self._later((account,))
            return
        try:
            await self._profiles.platform_name(customer, account, name)
        except StorageError as exc:
            log.warning("a customer name not kept (%s); asked again later", type(exc).__name__,
                        extra={"customer": customer})
            self._later((account,))
            return
        put_bounded(self._due, account, NAMED, KNOWN)

    def _later(self, accounts: Iterable[str]) -> None:
        due = self._clock() + self._retry_after
        for account in accounts:
            put_bounded(self._due, account, due, KNOWN)


def _report_crash(task: asyncio.Task[None]) -> None:
    """An unexpected error ends the lookups until the next new account starts them again."""
    if not task.cancelled() and task.exception() is not None:
        log.error("customer names: the lookup stopped by an unexpected error",
                  exc_info=task.exception())
