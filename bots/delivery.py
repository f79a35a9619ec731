"""Where a message goes, and the small executor that sends it through the outbox.

This module owns the choice of channel: replies to a message go back where the customer wrote;
bot-initiated messages (reminders, ``/api/v1`` starts) go to the most recently active linked
account and fail over to the next one when a platform refuses (``Undeliverable``). The choice
is a pure function (``plan_reply`` / ``plan_initiated``); ``Delivery`` only executes it: outbox
entry first, send, acknowledge, history. It must not decide what to say or touch dialogue state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from bots.posting import landing_order, wait_until, wire
from bots.routes_kept import Routes
from bots.targets import Account as Account
from bots.targets import Target as Target
from bots.targets import account_on as account_on
from bots.targets import plan_initiated as plan_initiated
from bots.targets import plan_reply as plan_reply
from bots.targets import split_account as split_account
from connectors.attachments import with_file_link
from connectors.base import (
    ChannelError,
    Connector,
    Priority,
    Undeliverable,
)
from flows.types import Channel, Inbound, Reply
from storage.errors import StorageError
from storage.history import OPERATOR_NOTE, HistoryEntry
from storage.locks import Lock
from storage.outbox import OutboxEntry, Prepared
from storage.store import Sent

if TYPE_CHECKING:
    from bots.metrics import Metrics
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

# Outbox entries not acknowledged for this long belong to a dead turn and are re-sent.
STALE_OUTBOX_MS = 60_000
# A send still waiting (a connector's rate-limit queue, a slow platform) renews its entry's
# lease this often, so the stale sweep never re-sends a message that is still on its way.
LEASE_RENEW_EVERY = STALE_OUTBOX_MS / 1000 / 4


@dataclass(frozen=True, slots=True)
class Delivered:
    """The outcome of one delivery: where it went (None: nowhere) and what was tried."""

    target: Target | None
    tried: tuple[Target, ...] = ()
    refused: str = field(default="", compare=False)  # the last platform error's name


# Why a message goes out: an answer to what the customer just wrote, a reminder the flow
# scheduled, a notice climbing its ladder (``bots.ladder``), a person's message (the desk), or
# one copy of a broadcast (``bots.broadcasts``: the bulk lane, behind every live reply).
Why = Literal["reply", "reminder", "notice", "operator", "broadcast"]


@dataclass(frozen=True, slots=True)
class Send:
    """One delivery: who gets which replies, where, why and until when.

    ``account`` names the one place to send (a reply goes back where the customer wrote; a
    ladder rung may name a channel); without it the message goes to the customer's most
    recently active account and fails over to the next when a platform refuses, among
    ``channels`` when given (a broadcast's segment may name some). Replies and operator
    messages join the rate limiters' live lane, the rest the bulk lane. After ``deadline``
    (epoch seconds) no further account is tried."""

    customer: str
    replies: tuple[Reply, ...]
    why: Why
    account: Target | None = None
    deadline: float | None = None
    note: str = ""
    channels: frozenset[Channel] | None = None

    @property
    def priority(self) -> Priority:
        return "live" if self.why in ("reply", "operator") else "bulk"

    @property
    def fails_over(self) -> bool:
        return self.account is None


@dataclass(frozen=True, slots=True)
class Kept:
    """A turn's replies its save kept in the state (``storage.kept``), sent under ``lock``."""

    lock: Lock
    entries: Sequence[Prepared]


@dataclass(slots=True)
class _Item:
    """One reply still to send, with its id when the caller wrote it ahead (in the outbox,
    or kept in the state: ``kept``, its entry)."""

    reply: Reply
    entry: str | None = None
    kept: Prepared | None = None


def _items(replies: Sequence[Reply], queued: Sequence[str], kept: Kept | None) -> list[_Item]:
    if kept is not None:
        entries = kept.entries
        return [_Item(reply, entries[i].id, entries[i]) if i < len(entries) else _Item(reply)
                for i, reply in enumerate(replies)]
    return [_Item(reply, queued[i] if i < len(queued) else None)
            for i, reply in enumerate(replies)]


class Delivery:
    """Sends replies through the outbox to the connectors, in order."""

    def __init__(
        self,
        *,
        store: Store,
        connectors: Mapping[Channel, Connector],
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        renew_every: float = LEASE_RENEW_EVERY,
    ) -> None:
        self._store = store
        self.store = store  # (for this module's functions)
        self._connectors = connectors
        self.connectors = connectors  # (``bots.kept`` re-sends through them)
        self._metrics = metrics
        self._clock = clock
        self._renew_every = renew_every
        self._routes = Routes(store)  # the dialogs learned, for re-sends to read back
        wire(connectors.values(), store.outbox, store.kept)  # (posts marked: ``bots.posting``)

    @property
    def channels(self) -> frozenset[Channel]:
        return frozenset(self._connectors)

    def prepare(
        self, customer: str, inbound: Inbound, replies: Sequence[Reply]
    ) -> list[Prepared]:
        """Entries for answering ``inbound`` with ``replies``, for the caller to keep with its
        state (``States.save(replies=...)``) and pass to ``reply(kept=...)``."""
        target = plan_reply(inbound)[0]
        if target.channel not in self._connectors:
            return []
        prepare = self._store.outbox.prepare
        return [prepare(customer, target.channel, target.user_id, reply) for reply in replies]

    async def reply(
        self, customer: str, inbound: Inbound, replies: Sequence[Reply], *,
        sent: list[Sent] | None = None, kept: Kept | None = None,
    ) -> bool:
        """Answer on the channel the customer wrote from; False when it refused.

        With ``sent``, each delivered reply is added there instead of being acknowledged at
        once: the caller acknowledges them with its next round trip (``Store.acknowledge``,
        ``Store.release_if_idle``) — until then the state (or the outbox) still holds them,
        so a crash re-sends rather than loses. ``kept``: the first replies' entries, which
        the caller's save kept in the state (``prepare``)."""
        if not replies:
            return True
        send = Send(customer, tuple(replies), "reply", account=plan_reply(inbound)[0])
        result = await self.deliver(send, sent=sent, kept=kept)
        if result.target is not None:  # (a reminder's re-send can read the dialog back)
            await self._routes.keep(customer, inbound.account, inbound.reply_to)
        return result.target is not None

    async def deliver(
        self, send: Send, *, sent: list[Sent] | None = None, queued: Sequence[str] = (),
        kept: Kept | None = None,
    ) -> Delivered:
        """Send ``send`` through the outbox, in order; where it went (None: nowhere).

        ``queued``: outbox ids already written for the first replies (a broadcast's);
        ``sent``, ``kept``: see ``reply``."""
        if send.account is not None:
            targets = [send.account]
        else:
            accounts, routes = await self._store.identities.reach(send.customer)
            available = self.channels if send.channels is None else self.channels & send.channels
            targets = plan_initiated(accounts, available, routes)
        result = await self._try(send, targets, _items(send.replies, queued, kept), sent,
                                 kept.lock if kept is not None else None)
        if result.target is not None:  # sent by bare user id: keep the dialog MAX named
            await self.learned(send.customer, result.target.channel, result.target.user_id)
        return result

    async def learned(self, customer: str, channel: Channel, user_id: str) -> None:
        await self._routes.learned(customer, channel, user_id, self._connectors.get(channel))

    async def _try(
        self, send: Send, targets: Sequence[Target], items: list[_Item],
        sent: list[Sent] | None, lock: Lock | None,
    ) -> Delivered:
        tried: list[Target] = []
        refused = ""
        for target in targets:
            connector = self._connectors.get(target.channel)
            if connector is None:
                continue
            if tried and send.deadline is not None and self._clock() > send.deadline:
                break  # too late for another channel
            tried.append(target)
            try:  # in order; each sent reply leaves ``items``, so failover sends the rest
                while items:
                    await self._send_one(connector, target, send, items[0], sent, lock)
                    items.pop(0)
            except ChannelError as exc:
                refused = type(exc).__name__
                log.warning("delivery refused", extra={
                    "customer": send.customer, "channel": target.channel,
                    "error": type(exc).__name__})
                if not send.fails_over:
                    if isinstance(exc, Undeliverable):
                        await _undeliverable(self, send, target, items)
                    elif moved := [item.kept for item in items if item.kept is not None]:
                        await self._store.kept.move(send.customer, moved)
                    break  # the ones written ahead go with the outbox re-send
                self._metrics.delivery_failovers.labels(target.channel).inc()
                continue
            return Delivered(target, tuple(tried))
        return Delivered(None, tuple(tried), refused)

    async def _send_one(
        self, connector: Connector, target: Target, send: Send, item: _Item,
        sent: list[Sent] | None, lock: Lock | None,
    ) -> None:
        outbox = self._store.outbox
        entry = item.entry or await outbox.put(send.customer, target.channel, target.user_id,
                                               item.reply)
        kept = lock if item.kept is not None else None
        try:
            await self.send_leased(connector, target.user_id, item.reply, entry,
                                   priority=send.priority, lock=kept)
        except ChannelError as exc:
            # Failing over: the other channel carries it now, so never re-send it here.
            # One place only: leave it in the outbox; the sweeper re-sends it later (a kept
            # reply: moved there by ``_try``). Undeliverable: never.
            if kept is None and (send.fails_over or isinstance(exc, Undeliverable)):
                await outbox.ack(entry)
            raise
        await self.record(send.customer, target.channel, item.reply, send.note, ack=entry,
                           sent=sent, kept=kept is not None)

    async def send_leased(
        self, connector: Connector, user_id: str, reply: Reply, entry: str, *,
        priority: Priority, since: float | None = None, lock: Lock | None = None,
    ) -> None:
        """``connector.send`` while a helper task renews the outbox lease of ``entry`` (a
        kept reply's, ``lock``: the customer's lock, and its posts marked in the state).

        The helper starts only once the send has taken ``renew_every`` seconds (a timer
        handle, not a task per reply: nearly every send is done long before)."""
        keeper: list[asyncio.Task[None]] = []

        def start() -> None:
            renew = keep_lease(self._store, entry, self._renew_every, lock)
            keeper.append(asyncio.create_task(renew, name=f"lease-{entry}"))

        timer = asyncio.get_running_loop().call_later(self._renew_every, start)
        if reply.file is not None and not connector.capabilities.files:  # (SMS, e-mail)
            reply = with_file_link(reply, max_label=connector.capabilities.max_label)
        if lock is not None:
            self._store.kept.expect(entry, lock)
        try:
            await connector.send(user_id, reply, message_key=entry, priority=priority,
                                 since=since)
        finally:
            self._store.kept.done(entry)
            timer.cancel()
            for task in keeper:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def record(
        self, customer: str, channel: Channel, reply: Reply, note: str, *, count: bool = True,
        ack: str | None = None, sent: list[Sent] | None = None, kept: bool = False,
    ) -> None:
        """History of a sent reply; with ``ack``, that outbox entry is acknowledged in the
        same round trip (or later, with ``sent``: see ``reply``)."""
        if count:
            self._metrics.sent(channel).inc()
        entry = HistoryEntry(
            ts=self._clock(), channel=channel, direction="out", text=reply.text,
            buttons=tuple(button.text for button in reply.buttons),
            note=note or (f"{OPERATOR_NOTE} {reply.operator}" if reply.operator else ""),
            keyboard=reply.buttons,
            attachments=() if reply.file is None else (reply.file,),
        )
        if ack is not None and sent is not None:
            sent.append(Sent(ack, customer, entry, kept))
        elif ack is None:
            await self._store.history.append(customer, entry)
        else:
            await self._store.delivered(ack, customer, entry)

    async def acknowledge(self, inbound: Inbound) -> None:
        """Stop a pressed button's spinner (connectors that already did make it a no-op)."""
        connector = self._connectors.get(inbound.channel)
        if connector is None or inbound.callback_id is None:
            return
        try:
            await connector.answer_callback(inbound)
        except ChannelError as exc:  # cosmetic: the spinner stops by itself
            log.info("callback of %s not acknowledged: %s", inbound.channel,
                     type(exc).__name__)

    async def resend_stale(self, min_idle_ms: int = STALE_OUTBOX_MS) -> int:
        """Re-send outbox entries a crashed turn left behind; returns how many went out."""
        return await self._resend(await self._store.outbox.claim_stale(min_idle_ms))

    async def resend(self, ids: Sequence[str]) -> int:
        """Send now those of ``ids`` the outbox holds: a turn of this process wrote them and
        failed before sending (Redis stalled); how many went out."""
        return await self._resend(await self._store.outbox.claim(ids))

    async def _resend(self, entries: Sequence[OutboxEntry]) -> int:
        sent = 0  # (a customer whose post may still be landing waits: ``bots.posting``)
        for ready, group in await landing_order(self._store.outbox, self._connectors, entries):
            await wait_until(ready)
            dropped = await self._store.states.never_saved(group)  # (the turn runs again)
            for entry in group:
                connector = self._connectors.get(entry.channel)
                if connector is None or entry.id in dropped:
                    continue
                try:  # an earlier attempt may have arrived: the connector checks what it can
                    await self.send_leased(connector, entry.user_id, entry.reply, entry.id,
                                           priority="live", since=entry.created)
                except Undeliverable:
                    await self._store.outbox.ack(entry.id)
                    continue
                except ChannelError:
                    continue  # still failing: stays in the outbox for the next sweep
                # an operator's message keeps its author («operator: Анна»), re-sent or not
                note = "" if entry.reply.operator else "re-sent"
                await self.record(entry.customer, entry.channel, entry.reply, note, ack=entry.id)
                await self.learned(entry.customer, entry.channel, entry.user_id)
                sent += 1
        return sent


async def keep_lease(store: Store, entry: str, every: float, lock: Lock | None) -> None:
    """Renew the outbox lease of ``entry`` (a kept reply's: the customer's ``lock``, so no
    other process leases the customer mid-send) every ``every`` seconds until cancelled."""
    while True:
        try:
            if lock is None:
                await store.outbox.touch(entry)
            else:
                await store.states.locks.extend(lock)
        except StorageError as exc:  # the sweep may re-send it; the send goes on anyway
            log.warning("outbox lease not renewed", extra={"error": type(exc).__name__})
        await asyncio.sleep(every)


async def _undeliverable(delivery: Delivery, send: Send, target: Target,
                         items: list[_Item]) -> None:
    """Still part of the dialogue: a web chat shows it when the customer is back."""
    for item in items:
        await delivery.record(send.customer, target.channel, item.reply, "not delivered",
                              count=False)
        if item.entry is not None and item.kept is None:  # written ahead, never to be
            await delivery.store.outbox.ack(item.entry)  # sent (kept: the release forgets)
