"""What every connector offers the runtime, and the errors a connector may raise.

A connector translates; it never decides what to say and never touches dialogue state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from aiohttp import web

from flows.errors import SvyazError
from flows.types import Channel, Inbound, Reply

# Called by a connector for every update it understood. Returns once the event is durably
# accepted (de-duplicated and recorded); raises ``Unavailable`` when it could not be recorded,
# and the connector then answers the platform so that it retries (HTTP 503).
InboundSink = Callable[[Inbound], Awaitable[None]]

# The bytes of a file an operator sends, by its id (``Reply.file.id``): the runtime keeps the
# copy; a connector that uploads files to its platform (VK, MAX) is handed this to read it.
FileReader = Callable[[str], Awaitable[bytes]]

# An ``Inbound.reply_to`` starting with this names the customer's one-to-one chat on a
# platform that needs more than the user id to find the conversation again (MAX:
# ``dialog:<chat_id>:<user_id>``, answered by user id). The runtime keeps it per account, so
# bot-initiated messages (reminders) go the same way. Group chats never use it.
DIALOG_PREFIX = "dialog:"


def dialog_user(target: str) -> str | None:
    """The user id a ``DIALOG_PREFIX`` target ends with; None for any other target."""
    return target.rpartition(":")[2] if target.startswith(DIALOG_PREFIX) else None

# Which queue a send joins in a connector's rate limiter: "live" answers a customer who just
# wrote (or an operator's message), "bulk" is bot-initiated (reminders, notices); "live" goes
# first. The runtime's ``bots.delivery.Send`` decides it and passes it to ``send``.
Priority = Literal["live", "bulk"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """A channel's limits, so replies degrade gracefully (e.g. long choices become a list)."""

    max_text: int
    max_buttons: int
    max_per_row: int
    max_rows: int
    max_label: int
    link_buttons: bool = True
    request_phone: bool = False
    markdown: bool = False
    files: bool = False  # sends ``Reply.file`` itself (else the runtime sends it as a link)


class ChannelError(SvyazError):
    """A channel could not do what was asked."""


class Undeliverable(ChannelError):
    """This platform refuses to deliver to this user (blocked the bot, no permission, offline).

    Delivery fails over to another linked channel; never retried on the same one.
    """


class ChannelUnavailable(ChannelError):
    """The platform kept failing (5xx, 429, network) after retries; try again later."""


class ChannelAuthError(ChannelError):
    """The token was refused: the channel stops and ``/healthz`` turns red."""


class Unavailable(SvyazError):
    """Storage is unreachable: the inbound event was not recorded; the platform should retry."""


class Connector(Protocol):
    """The handful of methods the runtime uses."""

    channel: Channel
    capabilities: Capabilities

    def routes(self) -> list[web.RouteDef]:
        """HTTP routes this connector serves (webhooks, web chat); may be empty."""

    async def start(self) -> None:
        """Begin receiving (polling loops start here); webhooks only need ``routes``."""

    async def stop(self) -> None:
        """Stop receiving and close network sessions."""

    async def send(
        self, user_id: str, reply: Reply, *, message_key: str, priority: Priority = "live",
        since: float | None = None,
    ) -> str | None:
        """Deliver ``reply`` to ``user_id``; the platform's id of the last message sent, where
        it gives one (MAX ``mid``, VK ``message_id``: an answer to it can be recognised).

        ``message_key`` is the outbox entry's stable id; a re-send after a crash passes the same
        key, so the platform (VK ``random_id``) or the connector can drop the duplicate.
        Rate-limited connectors queue it by ``priority``. ``since`` is set when the outbox
        re-sends an entry: the epoch seconds at which it was written. An earlier attempt may
        have reached the platform before the process died; a connector whose platform has no
        idempotency key (MAX) looks for the message sent since then and skips it.
        Raises ``Undeliverable``, ``ChannelUnavailable`` or ``ChannelAuthError``.
        """

    async def answer_callback(self, inbound: Inbound) -> None:
        """Acknowledge a button press so the customer's spinner stops (no-op if not needed)."""

    def health(self) -> dict[str, str | bool]:
        """``{"ok": bool, "mode": ..., "detail": ...}`` for ``/healthz``."""
