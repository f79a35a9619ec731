"""A broadcast's VK copies, up to 100 in one ``messages.send`` (``peer_ids``): one request of
VK's 20 per second on the bulk lane (live replies still go first) instead of one per customer.

Exactly once. Each member's copy is claimed with its outbox entry
(``Broadcasts.members.claim``); the entry's ``user_id`` names the batch and the member's own
peer (``connectors.vk.batch.address``), the batch's members are its record, written before the
claims (``Broadcasts.members.record``: nothing of another customer in one's entry, and erasing a
customer takes them out of it). The batch goes out as one request whose ``random_id`` comes
from the batch's key (its broadcast and members), and each member's entry is acknowledged
(with its history entry) after VK's answer. A crash between the send and the
acknowledgements leaves the entries: the outbox's re-send of any of them sends the same
request again — the same peers, the same ``random_id`` — which VK does not show twice (the
connector keeps the answer for the batch's other members, so that is one request, not 100).
VK keeps ``random_id`` for de-duplication for a limited time only (not documented; the outbox
re-sends within minutes). A member whose copy was claimed before with another batch (another
process formed different batches) makes this batch give its claims back unsent: its members
stay queued for the next pass; one claimed before with this very batch is sent again in the
same request, which VK drops for it. A re-send goes only to the peers still claimed with its
batch (``claimed_with``): after a crash among a batch's claims (so before its send) the rest
go with another batch, never with both.
A copy VK refuses for one peer (901: messages not allowed ...) fails over to the customer's
next account within the broadcast's channels, as a single copy does (``bots.delivery``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bots.delivery import Delivered, Delivery, Send
from connectors.base import ChannelError, Priority, Undeliverable
from connectors.vk.batch import MISSING, PEERS_PER_CALL, BatchAddress, address, batch_key
from flows.types import Channel, Reply
from storage.outbox import Prepared
from storage.store import Store

log = logging.getLogger("svyaz.bots")


@runtime_checkable
class BatchConnector(Protocol):
    """A connector that sends one text to many peers at once (``VkConnector``)."""

    batch_members: Callable[[BatchAddress], Awaitable[tuple[str, ...]]] | None

    async def send_batch(self, peers: tuple[str, ...], reply: Reply, *, key: str,
                         priority: Priority = "bulk") -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class Member:
    customer: str
    peer: str  # the VK peer id


class VkBatches:
    """Sends a broadcast's VK copies in batches of up to 100 and records each outcome."""

    def __init__(self, *, store: Store, connector: BatchConnector, delivery: Delivery) -> None:
        self._store = store
        self._connector = connector
        self._delivery = delivery
        connector.batch_members = self.claimed_with  # (a member's re-send asks)

    async def claimed_with(self, batch: BatchAddress) -> tuple[str, ...]:
        """The peers of ``batch`` whose copies are still claimed with it."""
        members = self._store.broadcasts.members
        if not batch.customers:  # (an older version's entry names them all)
            return await members.peers_with(batch.scope, batch.key)
        found = await members.batches(batch.scope, batch.customers)
        return tuple(p for p, b in zip(batch.peers, found, strict=True) if b == batch.key)

    async def send(self, broadcast: str, reply: Reply, members: Sequence[Member],
                   channels: frozenset[Channel] = frozenset()) -> None:
        """``members``' copies; those claimed before (a crash, another process) are left out
        of the batches first, so that batches overlap only when two processes race. A copy VK
        refuses for one peer fails over to the customer's next account among ``channels``."""
        broadcasts = self._store.broadcasts
        taken = await broadcasts.members.taken(broadcast, [m.customer for m in members])
        for member in (m for m, t in zip(members, taken, strict=True) if t):
            await broadcasts.finish(broadcast, member.customer, "sent", "vk", "sent")
        members = [m for m, t in zip(members, taken, strict=True) if not t]
        chunks = [members[i:i + PEERS_PER_CALL] for i in range(0, len(members), PEERS_PER_CALL)]
        others = channels - {"vk"}
        await asyncio.gather(*(self._batch(broadcast, reply, chunk, others) for chunk in chunks))

    async def _batch(self, broadcast: str, reply: Reply, members: Sequence[Member],
                     others: frozenset[Channel]) -> None:
        broadcasts = self._store.broadcasts
        key = batch_key(broadcast, [m.customer for m in members])
        peers = tuple(m.peer for m in members)
        await broadcasts.members.record(broadcast, key, [(m.customer, m.peer) for m in members])
        entries = [self._store.outbox.prepare(m.customer, "vk", address(key, broadcast, m.peer),
                                              reply) for m in members]
        earlier = await asyncio.gather(*(broadcasts.members.claim(broadcast, m.customer, e, key)
                                         for m, e in zip(members, entries, strict=True)))
        ours = [(m, e) for m, e, b in zip(members, entries, earlier, strict=True) if b is None]
        for member, before in zip(members, earlier, strict=True):
            if before is not None:  # taken before a crash or by another process: sent there
                await broadcasts.finish(broadcast, member.customer, "sent", "vk", "sent")
        if any(before not in (None, key) for before in earlier):
            log.info("a VK batch overlaps another; its %d copies wait for the next pass",
                     len(ours))
            await asyncio.gather(*(broadcasts.members.unclaim(broadcast, m.customer, e.id, key)
                                   for m, e in ours))
            return
        if not ours:
            return
        try:
            found = await self._connector.send_batch(peers, reply, key=key, priority="bulk")
        except Undeliverable as exc:  # the request itself was refused (914, 911 ...)
            found = dict.fromkeys(peers, getattr(exc, "code", MISSING))
        except ChannelError as exc:  # the entries stay: the outbox re-sends this same batch
            log.warning("VK batch not sent", extra={"error": type(exc).__name__})
            return
        await asyncio.gather(*(self._outcome(broadcast, reply, m, e, found.get(m.peer, MISSING),
                                             others) for m, e in ours))

    async def _outcome(self, broadcast: str, reply: Reply, member: Member, entry: Prepared,
                       code: int, others: frozenset[Channel]) -> None:
        broadcasts, note = self._store.broadcasts, f"broadcast {broadcast}"
        if code == 0:
            await self._delivery.record(member.customer, "vk", reply, note, ack=entry.id)
            await broadcasts.finish(broadcast, member.customer, "sent", "vk", "sent")
            return
        # Refused for this peer only: the customer's next account, as a single copy fails over
        # (its own outbox entry is written before this one goes: a kill between re-sends both,
        # VK's refusing again).
        went = await self._delivery.deliver(
            Send(member.customer, (reply,), "broadcast", note=note, channels=others)
        ) if others else Delivered(None)
        await self._store.outbox.ack(entry.id)  # never re-sent to VK
        if went.target is not None:
            await broadcasts.finish(broadcast, member.customer, "sent", went.target.channel,
                                    "sent")
            return
        await broadcasts.finish(broadcast, member.customer, "refused VkUndeliverable", "vk",
                                "refused VkUndeliverable")
