"""The MAX channel: ``MaxConnector`` implements ``connectors.base.Connector`` for MAX bots.

Owns: wiring parse (update -> ``Inbound``), render (``Reply`` -> messages), the client
(maxapi ``Bot`` with svyaz's rate limit and retries), the webhook route and the polling task.
Named ``maxbot`` so it never shadows the builtin ``max``.

Idempotence: MAX has no ``random_id``, so the platform cannot drop a repeated message. The
outbox re-delivers an entry whose acknowledgement was lost (a crash between send and ack);
such a re-send first reads the dialog back (``GET /messages``) and sends only the parts of the
reply that are not there. That needs the dialog's chat id, which ``Inbound.reply_to`` carries
(``dialog:<chat>:<user>``) and the runtime keeps per account for reminders and broadcasts
(``bots.delivery``; an account known only by its user id gets its route from the answer to the
first message sent to it, ``route_of``). A re-send with no chat to read (the first message ever
to such an account, when the kill fell between MAX's acceptance and the acknowledgement) or a
chat that cannot be read still shows a message twice rather than lose it: MAX offers no way to
find a dialog but its events and answers. Each post is announced just before it goes out
(``before_post``, with the message key): ``bots.posting`` marks it in the outbox, so a re-send
after a kill waits for a post the dead process had sent to land (``landing``) before it reads
the chat back. ``message_key`` is logged for tracing.

Targets: ``send`` takes a MAX user id, ``"dialog:<chat_id>:<user_id>"`` or
``"chat:<chat_id>"`` for a group chat (what ``Inbound.reply_to`` holds). One connector per
bot token in a process, so its limiter is the token's limiter.

Must not: decide what to answer, touch dialogue state, or import storage/bots.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web

from connectors.base import (
    DIALOG_PREFIX,
    Capabilities,
    ChannelAuthError,
    ChannelError,
    FileReader,
    InboundSink,
    Priority,
)
from connectors.common import RecentIds
from connectors.cursor import PollCursor
from connectors.maxbot.client import MaxClient, RetryPolicy
from connectors.maxbot.parse import MaxPayloadError, parse
from connectors.maxbot.polling import MaxPoller
from connectors.maxbot.readback import Landings, ReadBack
from connectors.maxbot.render import CAPABILITIES, render
from connectors.maxbot.upload import with_file
from connectors.maxbot.webhook import RECENT_IDS, MaxWebhook
from flows.backoff import Backoff
from flows.types import Channel, Inbound, Reply

__all__ = ["MaxConnector", "MaxPayloadError", "parse", "render"]

log = logging.getLogger("svyaz.connectors.max")

Mode = Literal["webhook", "polling"]
ME_RETRY_CAP = 60.0  # the longest pause between GET /me tries while MAX cannot be reached


class MaxConnector:
    """MAX for the runtime: ``routes()`` in webhook mode, a polling task in polling mode."""

    channel: Channel = "max"
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        token: str,
        api_url: str,
        mode: Mode,
        webhook_secret: str | None,
        sink: InboundSink,
        bot_username: str | None = None,
        retry: RetryPolicy | None = None,
        poll_hold: int = 30,
        timeout: float = 15.0,
        elected: bool = False,
        read_file: FileReader | None = None,
    ) -> None:
        if mode not in ("webhook", "polling"):
            raise ValueError(f"MAX mode must be 'webhook' or 'polling', got {mode!r}")
        self.mode = mode
        # Several processes: the elected one polls (``bots.polling`` calls start_polling).
        self.elected = elected
        self.bot_username = bot_username
        self.client = MaxClient(token=token, api_url=api_url, retry=retry, timeout=timeout)
        self.readback = ReadBack(self.client)  # (asked before re-sending)
        # Seconds a post may take to land (the client's timeout): a re-send of a message a
        # dead process was posting waits that long after its mark (``bots.posting``).
        self.landing = timeout
        # Awaited with the message key just before each post (``bots.posting`` marks it in
        # the outbox: a re-send then knows whether, and when, a post may still be landing).
        self.before_post: Callable[[str], Awaitable[None]] | None = None
        # This process's own posts per message key, settled or in doubt: a re-send of a
        # settled one (its ack lost to a Redis stall) need not wait for a landing (``landed``).
        self.landings = Landings()
        self._sink = sink
        self._read_file = read_file  # the bytes of a file an operator sends (by its id)
        self.webhook = MaxWebhook(secret=webhook_secret, sink=self._accept)
        self.poller = MaxPoller(client=self.client, sink=self._accept, hold=poll_hold)
        self._task: asyncio.Task[None] | None = None
        self._me: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[None]] = set()
        self._answered = RecentIds(RECENT_IDS)

    def routes(self) -> list[web.RouteDef]:
        return [self.webhook.route()] if self.mode == "webhook" else []

    async def start(self) -> None:
        """Polling: start the loop. Both modes: learn the bot's username (``GET /me``, which
        also checks the token, so a refused one turns health red before the first message)."""
        if self._me is not None:
            return
        self._me = asyncio.create_task(self._learn_username(), name="svyaz-max-me")
        if self.polls and not self.elected:
            await self.start_polling()

    @property
    def polls(self) -> bool:
        return self.mode == "polling"

    async def start_polling(self, cursor: PollCursor | None = None) -> None:
        """Poll from ``cursor``'s marker (saving it after each batch), or from MAX's."""
        if self._task is None:
            self.poller.cursor = cursor
            self._task = asyncio.create_task(self.poller.run(), name="svyaz-max-polling")
            log.info("MAX: long polling started")

    async def stop_polling(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _learn_username(self) -> None:
        """Ask ``GET /me`` until it answers (deep links into MAX need the bot's username); a
        configured ``bot_username`` stays as an override. Stops for good on a refused token."""
        backoff = Backoff(base=1.0, cap=ME_RETRY_CAP)
        while True:
            try:
                username = await self.client.username()
            except ChannelAuthError:
                return  # logged once by the client; health() is red
            except ChannelError as exc:
                if not backoff.failures:
                    log.warning("MAX: could not reach the API at start-up (%s); retrying", exc)
                await asyncio.sleep(backoff.delay())
                continue
            if self.bot_username is None and username:
                self.bot_username = username
            if self.bot_username is None:
                log.warning("MAX: GET /me gave no username; links into MAX are off until "
                            "SVYAZ_MAX_BOT_USERNAME is set")
            return

    async def stop(self) -> None:
        task, self._task = self._task, None
        me, self._me = self._me, None
        for running in {t for t in (task, me) if t is not None}:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        if self._answering:  # let the last acknowledgements go out before closing
            await asyncio.wait(self._answering, timeout=5)
        await self.client.close()

    async def _accept(self, inbound: Inbound) -> None:
        """Hand over to the runtime; once recorded, acknowledge a button press at once.

        The acknowledgement runs beside the turn (the reply comes as a new message), so the
        spinner stops even while the turn is still being processed.
        """
        await self._sink(inbound)
        if inbound.callback_id:
            task = asyncio.create_task(self.answer_callback(inbound))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    async def send(
        self, user_id: str, reply: Reply, *, message_key: str, priority: Priority = "live",
        since: float | None = None,
    ) -> str | None:
        """Send ``reply`` to a MAX user id (``dialog:<chat>:<user>`` when the dialog's chat is
        known, ``chat:<id>`` for a group chat), queued in the limiter by ``priority``.

        An outbox re-send (``since`` set) first reads the chat back and skips the parts
        that already arrived: MAX has no idempotency key, and the process that sent them may
        have died before it could record so."""
        fitted, media = await with_file(self.client, self._read_file, reply, priority)
        bodies = render(fitted, media=media)
        if since is not None:
            bodies = bodies[await self.readback.arrived(user_id, bodies, since, priority):]
            if not bodies:
                log.info("MAX: %s had arrived before; not sent again", message_key)
        mid = ""
        self.landings.starting(message_key)
        for body in bodies:
            mid = await self.client.send(
                user_id, body, priority=priority,
                arrived=self.readback.check(user_id, body, time.time(), priority),
                posting=self.landings.posting(message_key, self.before_post),
            )
            self.landings.answered(message_key)
            log.debug("MAX: sent %s for %s", mid or "(arrived before)", message_key)
        return mid or None

    def landed(self, message_key: str) -> bool:
        """Whether nothing this process posted of ``message_key`` can still be landing (each
        post answered, or none went out); False when unknown (another process posted it)."""
        return self.landings.settled(message_key)

    def route_of(self, user_id: str) -> str | None:
        """``dialog:<chat>:<user>`` for a bare user id whose dialog a send of this process
        learned from MAX's answer (``bots.delivery`` keeps it as the account's route, so the
        next message's re-send after a crash can read the dialog back); else None."""
        chat = self.client.dialogs.get(int(user_id)) if user_id.isdigit() else None
        return None if chat is None else f"{DIALOG_PREFIX}{chat}:{user_id}"

    async def answer_callback(self, inbound: Inbound) -> None:
        """Stop the button's spinner, once per callback (the connector already does it when
        the press is recorded, so a call from the runtime is a no-op); best effort."""
        if inbound.channel != "max" or not inbound.callback_id:
            return
        if inbound.callback_id in self._answered:
            return
        self._answered.add(inbound.callback_id)
        try:
            await self.client.answer(inbound.callback_id)
        except ChannelAuthError:
            return  # logged once by the client; health() is red
        except ChannelError as exc:
            log.warning("MAX: could not answer callback %s: %s", inbound.callback_id, exc)

    def deep_link(self, payload: str) -> str | None:
        """``https://max.ru/<bot>?start=<payload>`` once the bot's username is known (from
        ``SVYAZ_MAX_BOT_USERNAME``, else ``GET /me`` soon after start)."""
        if not self.bot_username:
            return None
        return f"https://max.ru/{self.bot_username}?start={payload}"

    def health(self) -> dict[str, str | bool]:
        if self.client.auth_error is not None:
            return {"ok": False, "mode": self.mode, "detail": self.client.auth_error}
        if self.mode == "polling" and self.elected and self._task is None:
            return {"ok": True, "mode": self.mode, "detail": "another process polls"}
        if self.mode == "polling":
            polling = self._task is not None and not self._task.done()
            error = self.poller.last_error
            ok = polling and error is None
            detail = error or ("polling" if polling else "polling is not running")
            return {"ok": ok, "mode": self.mode, "detail": detail}
        return {"ok": True, "mode": self.mode, "detail": "webhook"}
