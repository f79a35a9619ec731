"""Re-sends on a platform that cannot drop a repeated message (MAX), after a kill -9.

Such a connector reads the chat back before a re-send (``connectors.maxbot.readback``). A post
the dead process had sent may still be on its way, though: MAX holds the whole request and can
store it after the restarted process has read the chat. So each post is marked in the outbox
just before it goes out (``Outbox.posts``, wired into the connector's ``before_post``), and a
re-send of an entry whose post may still be landing waits until it has had the connector's
``landing`` time (its request timeout, the bound an unanswered post's retry trusts as well);
the others go at once, and so does one whose posts MAX answered in this process (only its
ack was lost, to a Redis stall: ``landed``). An entry without a mark was never posted (or
was written by a version that did not mark): it is read back at once, as before.

This module must not send anything.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from flows.types import Channel
from storage.kept import Kept
from storage.outbox import Outbox, OutboxEntry

log = logging.getLogger("svyaz.bots")

CLOCK_SKEW = 1.0  # seconds between the clock of the process that posted (the mark) and ours


@runtime_checkable
class MarksPosts(Protocol):
    """A connector whose re-sends must wait for a post still landing (``MaxConnector``)."""

    before_post: Callable[[str], Awaitable[None]] | None
    landing: float

    def landed(self, message_key: str) -> bool: ...


def wire(connectors: Iterable[object], outbox: Outbox, kept: Kept) -> None:
    """Have the connectors that need it mark each post before it goes out: in ``outbox``,
    or, for a turn's reply kept in its state, there (``storage.kept``)."""

    async def mark(key: str) -> None:
        if kept.holds(key):
            await kept.posting(key)  # (LockLost: not ours any more, the post must not go)
        else:
            await outbox.posts.posting(key)

    for connector in connectors:
        if isinstance(connector, MarksPosts):
            connector.before_post = mark


def kept_landing(connectors: Mapping[Channel, object], entries: Sequence[OutboxEntry],
                 marks: Mapping[str, float]) -> float:
    """When a cut turn's kept replies (``entries``, their post ``marks`` read with the lease)
    may be re-sent (epoch seconds, 0: now): as ``landing_order``, from the state's marks."""
    ready = 0.0
    for entry in entries:
        connector = connectors.get(entry.channel)
        posted = marks.get(entry.id)
        if posted is not None and isinstance(connector, MarksPosts) \
                and not connector.landed(entry.id):
            ready = max(ready, posted + connector.landing + CLOCK_SKEW)
    return ready


async def landing_order(
    outbox: Outbox, connectors: Mapping[Channel, object], entries: Sequence[OutboxEntry],
) -> list[tuple[float, list[OutboxEntry]]]:
    """``entries`` per customer (in their order), each customer's with the time (epoch
    seconds, 0: now) they may be re-sent at, those ready first."""
    groups: dict[str, list[OutboxEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.customer, []).append(entry)
    ready = [(max([await _landed(outbox, connectors.get(e.channel), e) for e in group]), group)
             for group in groups.values()]
    return sorted(ready, key=lambda found: found[0])


async def _landed(outbox: Outbox, connector: object, entry: OutboxEntry) -> float:
    """When a post of ``entry`` has landed if it ever will (0: never posted, or no need)."""
    if not isinstance(connector, MarksPosts) or connector.landed(entry.id):
        return 0.0  # (landed: MAX answered its posts here; only the ack was lost)
    posted = await outbox.posts.posted(entry.id)
    return 0.0 if posted is None else posted + connector.landing + CLOCK_SKEW


async def wait_until(when: float) -> None:
    """Sleep until ``when`` (epoch seconds, the outbox's clock) if it is still to come."""
    wait = when - time.time()
    if wait > 0:
        log.info("a re-send waits %.1f s for a post of a process that died to land", wait)
        await asyncio.sleep(wait)
