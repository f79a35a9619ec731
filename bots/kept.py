"""A cut turn's replies, re-sent by the next lease before anything else (``storage.kept``).

A turn keeps its replies in its customer's state from its save to its release. A process
killed in between leaves them there: the next lease of the customer (the next message's
accept, the sweep, the start's take-over) reads them (``Lease.replies``) and ``resend_kept``
sends them first, so they come before the replies to anything written since. Exactly once as
any re-send: VK drops a repeated ``random_id`` (the entry id), and MAX's connector reads the
chat back first, after a post the dead process marked has had its landing time
(``bots.posting.kept_landing``; the marks were read under the lease, so none can come later).
A reply the platform refuses for now goes to the outbox, whose sweep retries it.

This module must not decide what to say nor run turns (``bots.turn`` calls it).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from bots.posting import kept_landing, wait_until
from connectors.base import ChannelError, Undeliverable
from storage.kept import decode
from storage.locks import Lock
from storage.outbox import Prepared, encode_entry
from storage.store import Sent

if TYPE_CHECKING:
    from bots.delivery import Delivery
    from storage.store import Store

log = logging.getLogger("svyaz.bots")


async def resend_kept(delivery: Delivery, store: Store, lock: Lock, raw: str,
                      sent: list[Sent]) -> list[str]:
    """Re-send the kept replies ``raw`` (``out``) read with ``lock``'s lease, in order; each
    sent joins ``sent`` (acknowledged by the caller's next round trip). Their ids (the
    release deletes them with their marks, whatever became of them)."""
    entries = decode(raw)
    marks = await store.kept.marks(lock.customer, [entry.id for entry in entries])
    ready = kept_landing(delivery.connectors, entries, marks)
    if ready > time.time():
        await wait_until(ready)
        await store.states.locks.extend(lock)  # (the wait took a part of its time)
    count = 0
    for i, entry in enumerate(entries):
        connector = delivery.connectors.get(entry.channel)
        try:
            if connector is None:
                raise ChannelError(f"no {entry.channel} connector here")
            await delivery.send_leased(connector, entry.user_id, entry.reply, entry.id,
                                       priority="live", since=entry.created, lock=lock)
        except Undeliverable:
            await delivery.record(entry.customer, entry.channel, entry.reply, "not delivered",
                                  count=False)
            continue
        except ChannelError:  # the rest, in order, with the outbox's sweep
            rest = [Prepared(e.id, encode_entry(e)) for e in entries[i:]]
            await store.kept.move(lock.customer, rest)
            break
        note = "" if entry.reply.operator else "re-sent"
        await delivery.record(entry.customer, entry.channel, entry.reply, note, ack=entry.id,
                              sent=sent, kept=True)
        await delivery.learned(entry.customer, entry.channel, entry.user_id)
        count += 1
    log.info("re-sent %d of %d replies of %s's turn cut after its save", count, len(entries),
             lock.customer)
    return [entry.id for entry in entries]
