"""Web chat across several ``svyaz run`` processes: a reply finds the process holding the socket.

A browser's WebSocket lives in one process, but the turn that answers it (a reminder on the
scheduler's leader, a message that waited for another process's customer lock) may run in
another. ``WebRelay`` wraps the web chat connector: when the local connector has no socket for
the session (``Undeliverable``), the reply is published on a Redis channel; every process tries
it on its own sockets and the one that delivers it marks the message key as delivered. No mark
within a short wait means no process has the session open: ``Undeliverable``, as before.
It must not render anything or touch dialogue state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING

from aiohttp import web

from bots.background import pause
from connectors.base import Capabilities, ChannelError, Connector, Priority, Undeliverable
from flows.types import Channel, Inbound, Reply
from storage.codec import reply_from_dict, reply_to_dict
from storage.keys import WEB_DELIVERED_TTL

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

WAIT_FOR_PEER = 0.5  # seconds another process has to deliver a relayed reply


class WebRelay:
    """A ``Connector`` for the ``web`` channel that reaches sockets held by other processes."""

    def __init__(self, local: Connector, store: Store) -> None:
        self.local = local
        self.channel: Channel = local.channel
        self.capabilities: Capabilities = local.capabilities
        self._store = store
        self._bus = store.keys.web_bus
        self._stop = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        return self.local.routes()

    async def start(self) -> None:
        await self.local.start()
        self._listener = asyncio.create_task(self._listen(), name="web-relay")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._listener), timeout=3)
            self._listener.cancel()
        await self.local.stop()

    async def answer_callback(self, inbound: Inbound) -> None:
        await self.local.answer_callback(inbound)

    def health(self) -> dict[str, str | bool]:
        return self.local.health()

    async def send(
        self, user_id: str, reply: Reply, *, message_key: str, priority: Priority = "live",
        since: float | None = None,
    ) -> None:
        try:
            await self.local.send(user_id, reply, message_key=message_key)
            return
        except Undeliverable:
            pass
        body = json.dumps({"u": user_id, "k": message_key, "r": reply_to_dict(reply)},
                          ensure_ascii=False)
        redis = self._store.redis
        ourselves = 1 if self._ready.is_set() else 0
        if await redis.publish(self._bus, body) <= ourselves:  # a single process: no wait
            raise Undeliverable(f"web session {user_id[:6]} is not connected")
        deadline = time.monotonic() + WAIT_FOR_PEER
        while time.monotonic() < deadline:
            if await redis.exists(self._store.keys.web_delivered(message_key)):
                return
            await asyncio.sleep(0.02)
        raise Undeliverable(f"web session {user_id[:6]} is not connected anywhere")

    async def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                await self._listen_once()
            except Exception as exc:  # Redis trouble: try again shortly
                log.warning("web relay: %s", type(exc).__name__)
                if await pause(self._stop, 1.0):
                    return

    async def _listen_once(self) -> None:
        pubsub = self._store.redis.pubsub()
        try:
            await pubsub.subscribe(self._bus)
            self._ready.set()
            while not self._stop.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if message is not None:
                    await self._deliver_here(message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _deliver_here(self, raw: bytes | str) -> None:
        data = json.loads(raw)
        try:
            await self.local.send(str(data["u"]), reply_from_dict(data["r"]),
                                  message_key=str(data["k"]))
        except ChannelError:
            return  # not ours (or gone here too)
        await self._store.redis.set(self._store.keys.web_delivered(str(data["k"])), "1",
                                    ex=WEB_DELIVERED_TTL)
