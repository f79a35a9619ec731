"""Whether a MAX message arrived after all: the dialog read back (``GET /messages``).

MAX has no idempotency key. Before an outbox re-send (its writer may have died after MAX
accepted the message) and before the client's retry of an unanswered post, the connector asks
how many of the message's parts the bot already posted to the chat since the entry was
written. A target with no chat (a bare user id) or a chat that cannot be read counts as
nothing arrived: a doubt ends in a message shown twice, never in one lost.

A post by a process killed while MAX was still storing it can land after this read-back:
``bots.posting`` waits until it has had the client's timeout to land (it knows when the post
went out) before a re-send asks.

Must not: send, decide what to answer, or import storage/bots.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from connectors.base import ChannelError, Priority
from connectors.maxbot.client import Arrived, MaxClient, chat_of
from connectors.maxbot.render import NewMessageBody

log = logging.getLogger("svyaz.connectors.max")

# Seconds a re-send looks back before its outbox entry was written, for the difference between
# this machine's clock and MAX's (a reply identical to one sent in that second is not repeated).
CLOCK_SKEW = 1.0


class ReadBack:
    """Reads a chat back to tell which parts of a message are there already."""

    def __init__(self, client: MaxClient) -> None:
        self._client = client

    def check(self, target: str, body: NewMessageBody, since: float,
              priority: Priority) -> Arrived:
        """What the client asks before it retries an unanswered post of ``body``: the same
        read-back an outbox re-send does, from just before the first attempt."""

        async def arrived() -> bool:
            return await self.arrived(target, [body], since, priority) == 1

        return arrived

    async def arrived(
        self, target: str, bodies: list[NewMessageBody], since: float, priority: Priority
    ) -> int:
        """How many of ``bodies`` (in order) the bot posted to the chat at or after ``since``
        (epoch seconds, less CLOCK_SKEW): 0 when the chat is unknown or cannot be read, so
        a doubt ends in a message shown twice, never in one lost."""
        chat = chat_of(target)
        if chat is None:
            return 0
        try:
            posted = await self._client.recent(chat, priority=priority)
        except ChannelError as exc:
            log.warning("MAX: could not read chat back before a re-send: %s", exc)
            return 0
        floor = int((since - CLOCK_SKEW) * 1000)
        matched = 0
        for message in posted:
            if matched == len(bodies):
                break
            wanted = bodies[matched].get("text")
            if message.by_bot and message.at >= floor and message.text == wanted:
                matched += 1
        return matched


class Landings:
    """What this process knows of its own posts per message key: settled (every post it
    started was answered, or none went out: its mark in the outbox failed first) or in doubt
    (a post went out unanswered, and may still land). A re-send need not wait out the landing
    time of a settled key (``bots.posting``); an unknown key (another process posted) must."""

    def __init__(self, kept: int = 10_000) -> None:
        self._doubt: OrderedDict[str, bool] = OrderedDict()  # key -> a post may be landing
        self._kept = kept

    def starting(self, key: str) -> None:
        """A send of ``key`` begins: nothing of it is in flight yet."""
        self._doubt[key] = False
        self._doubt.move_to_end(key)
        while len(self._doubt) > self._kept:
            self._doubt.popitem(last=False)

    def posting(self, key: str, mark: Callable[[str], Awaitable[None]] | None
                ) -> Callable[[], Awaitable[None]]:
        """What the client awaits just before each post of ``key``: the outbox's mark (if
        any), then the post goes out and is in doubt until ``answered``."""

        async def before() -> None:
            if mark is not None:
                await mark(key)  # raising: the post does not go out, nothing to land
            self._doubt[key] = True

        return before

    def answered(self, key: str) -> None:
        if key in self._doubt:
            self._doubt[key] = False

    def settled(self, key: str) -> bool:
        return self._doubt.get(key) is False
