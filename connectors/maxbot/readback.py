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
