"""The VK community-bot connector: Callback API or Bots Long Poll in, ``messages.send`` out.

``VkConnector`` wires the pure parts (``parse``, ``render``) to the thin I/O parts
(``client``, ``callback``, ``longpoll``) and implements ``connectors.base.Connector``.
It translates only: it never decides what to say and never touches dialogue state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Literal

from aiohttp import web

from connectors.attachments import with_file_link
from connectors.base import (
    Capabilities,
    ChannelUnavailable,
    FileReader,
    InboundSink,
    Priority,
    Undeliverable,
)
from connectors.cursor import PollCursor
from connectors.ratelimit import RateLimiter
from flows.types import Channel, Inbound, Reply

from .batch import (
    MISSING,
    PEERS_PER_CALL,
    BatchAddress,
    outcomes,
    parse_address,
    with_peers,
    worst,
)
from .callback import PATH as CALLBACK_PATH
from .callback import CallbackEndpoint
from .client import API_VERSION, DEFAULT_API_URL, RetryPolicy, VkClient, VkUndeliverable
from .longpoll import LongPoll
from .parse import VkPayloadError, parse_callback
from .render import CAPABILITIES, ButtonType, render
from .upload import upload
from .users import USERS_PER_CALL, user_names, users_params

__all__ = [
    "API_VERSION",
    "CALLBACK_PATH",
    "CAPABILITIES",
    "DEFAULT_API_URL",
    "RetryPolicy",
    "VkConnector",
    "VkPayloadError",
    "parse_callback",
    "render",
]

log = logging.getLogger("svyaz.connectors.vk")

Mode = Literal["callback", "longpoll"]
BATCHES_KEPT = 64  # batches whose answer this process keeps for their members' re-sends


class VkConnector:
    """One VK community: receives its updates and sends its messages."""

    channel: Channel = "vk"
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        token: str,
        group_id: int | str,
        sink: InboundSink,
        api_url: str = DEFAULT_API_URL,
        mode: Mode = "longpoll",
        secret: str | None = None,
        confirmation: str | None = None,
        button_type: ButtonType = "text",
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        poll_wait: int = 25,
        poll_backoff: float = 1.0,
        elected: bool = False,
        read_file: FileReader | None = None,
    ) -> None:
        self.mode = mode
        self._read_file = read_file  # the bytes of a file an operator sends (by its id)
        # Several processes: the elected one polls (``bots.polling`` calls start_polling).
        self.elected = elected
        self.group_id = group_id = int(group_id)
        self.button_type = button_type
        self.client = VkClient(token=token, api_url=api_url, limiter=limiter, retry=retry)
        self._endpoint = CallbackEndpoint(
            sink=sink, group_id=group_id, secret=secret, confirmation=confirmation
        )
        self._poll = LongPoll(
            client=self.client, group_id=group_id, sink=sink, wait=poll_wait,
            backoff_base=poll_backoff,
        )
        self._task: asyncio.Task[None] | None = None
        self._batches: dict[str, dict[str, int]] = {}  # batch key -> outcome per peer
        # Which of a batch's peers are still claimed with it (``bots.broadcast_vk`` sets it).
        self.batch_members: Callable[[BatchAddress], Awaitable[tuple[str, ...]]] | None = None

    def routes(self) -> list[web.RouteDef]:
        return [self._endpoint.route()] if self.mode == "callback" else []

    @property
    def polls(self) -> bool:
        return self.mode == "longpoll"

    async def start(self) -> None:
        if self.polls and not self.elected:
            await self.start_polling()

    async def start_polling(self, cursor: PollCursor | None = None) -> None:
        """Poll from ``cursor``'s ``ts`` (saving it after each batch), or from VK's now."""
        if self._task is None:
            self._poll.cursor = cursor
            self._task = asyncio.create_task(self._poll.run(), name="vk-longpoll")
            self._task.add_done_callback(_report_crash)

    async def stop_polling(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # a crash was logged by _report_crash; stopping must not raise it again
            await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        await self.stop_polling()
        await self.client.close()

    async def send(
        self, user_id: str, reply: Reply, *, message_key: str, priority: Priority = "live",
        since: float | None = None,
    ) -> str | None:
        """VK drops a re-send itself: ``random_id`` is derived from ``message_key`` (a batch
        member's re-send: from the batch's key, to the batch's peers, see ``send_batch``)."""
        batch = parse_address(user_id)
        if batch is not None:
            found = self._batches.get(batch.key)
            if found is None:
                peers = batch.peers if self.batch_members is None \
                    else await self.batch_members(batch)
                found = await self.send_batch(peers, reply, key=batch.key, priority=priority)
            code = found.get(batch.own, MISSING)
            if code:
                raise VkUndeliverable(f"VK messages.send: error {code} for a batch", code=code)
            return None
        attachment = None
        if reply.file is not None and self._read_file is not None:
            data = await self._read_file(reply.file.id)
            attachment = await upload(self.client, user_id, reply.file, data, priority=priority)
            reply = replace(reply, file=None)
        calls = render(
            with_file_link(reply, max_label=self.capabilities.max_label), self.capabilities,
            peer_id=user_id, message_key=message_key, button_type=self.button_type,
        )
        if attachment is not None:
            calls[-1]["attachment"] = attachment
        sent = None
        for params in calls:
            sent = await self.client.call("messages.send", params, priority=priority)
        return str(sent) if isinstance(sent, int) and sent > 0 else None

    async def send_batch(
        self, peers: tuple[str, ...], reply: Reply, *, key: str, priority: Priority = "bulk",
    ) -> dict[str, int]:
        """``reply`` (no file) to up to 100 ``peers`` in one ``messages.send`` per message
        part, ``random_id`` from ``key``; per peer 0 when sent, else VK's error code. A
        whole-request error raises as ``send`` does (every peer's copy shares its fate)."""
        if reply.file is not None or len(peers) > PEERS_PER_CALL:
            raise ValueError("a batch is one text without a file to at most 100 peers")
        calls = render(reply, self.capabilities, peer_id="", message_key=key,
                       button_type=self.button_type)
        found: dict[str, int] = {}
        for params in calls:
            answer = await self.client.call("messages.send", with_peers(params, peers),
                                            priority=priority)
            found = worst(found, outcomes(answer, peers))
        self._batches[key] = found
        while len(self._batches) > BATCHES_KEPT:
            del self._batches[next(iter(self._batches))]
        return found

    async def names(self, user_ids: tuple[str, ...]) -> dict[str, str]:
        """The names VK shows for ``user_ids`` (``users.get``, ``USERS_PER_CALL`` a request,
        in the limiter's bulk lane: a live reply never waits behind it); a user without a name
        (deleted, banned, not found) is left out. A VK failure raises a ``ChannelError``."""
        found: dict[str, str] = {}
        for start in range(0, len(user_ids), USERS_PER_CALL):
            part = users_params(user_ids[start:start + USERS_PER_CALL])
            found |= user_names(await self.client.call("users.get", part, priority="bulk"))
        return found

    async def answer_callback(self, inbound: Inbound) -> None:
        if inbound.callback_id is None:
            return
        params = {
            "event_id": inbound.callback_id,
            "user_id": inbound.user_id,
            "peer_id": inbound.reply_to or inbound.user_id,
        }
        try:
            await self.client.call("messages.sendMessageEventAnswer", params)
        except (Undeliverable, ChannelUnavailable) as exc:
            # The spinner stops by itself after a while; the turn itself is not lost.
            log.warning("VK: callback %s not answered (%s)", inbound.callback_id, exc)

    def health(self) -> dict[str, str | bool]:
        if self.client.auth_failed:
            return {"ok": False, "mode": self.mode, "detail": "VK refused the token (error 5)"}
        if self.mode == "longpoll":
            return self._poll_health()
        return {"ok": True, "mode": self.mode, "detail": "waiting for Callback API"}

    def _poll_health(self) -> dict[str, str | bool]:
        if self.elected and self._task is None:
            return {"ok": True, "mode": self.mode, "detail": "another process polls"}
        if self._task is None or self._task.done():
            return {"ok": False, "mode": self.mode, "detail": "long poll not running"}
        if self._poll.failing_since is not None:
            return {"ok": False, "mode": self.mode,
                    "detail": f"long poll failing: {self._poll.last_error}"}
        return {"ok": True, "mode": self.mode, "detail": "long poll running"}


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("VK long poll stopped by an unexpected error", exc_info=task.exception())
