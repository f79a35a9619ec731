"""The Bots Long Poll loop (PROTOCOLS.md B5).

Owns the pull side: ``groups.getLongPollServer``, ``a_check`` with ``wait=25``, VK's ``failed``
answers (1: continue with the new ``ts``; 2: new key, keep ``ts``; 3: new key and ``ts``),
jittered back-off while VK or the sink is unreachable, one log line when polling starts to fail
and one when it recovers. Updates go through the same ``parse`` + sink path as the Callback
API; ``ts`` advances only after every update of a batch was accepted, so nothing is lost when
the sink is down (VK re-sends from the old ``ts`` and the sink de-duplicates).
It must not decide anything about the dialogue. Cancel the task to stop it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import aiohttp

from connectors.base import ChannelAuthError, ChannelError, InboundSink, Unavailable
from connectors.cursor import PollCursor, remember, resume
from flows.backoff import Backoff
from flows.types import JSON

from .client import VkClient
from .parse import VkPayloadError, parse_callback

log = logging.getLogger("svyaz.connectors.vk")

Action = Literal["events", "new_ts", "new_key", "new_server"]


@dataclass(frozen=True, slots=True)
class PollServer:
    server: str
    key: str
    ts: str


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    ts: str | None = None
    updates: tuple[JSON, ...] = ()


class PollError(ChannelError):
    """The long-poll server did not answer usefully (network, HTTP status, not JSON)."""


def decide(answer: Mapping[str, JSON]) -> Decision:
    """What an ``a_check`` answer asks for (pure)."""
    failed = answer.get("failed")
    ts = answer.get("ts")
    ts_text = str(ts) if isinstance(ts, str | int) and not isinstance(ts, bool) else None
    if failed is None:
        updates = answer.get("updates")
        if ts_text is None or not isinstance(updates, list):
            raise PollError("long-poll answer without ts/updates")
        return Decision("events", ts=ts_text, updates=tuple(updates))
    if failed == 1 and ts_text is not None:
        return Decision("new_ts", ts=ts_text)
    if failed == 2:
        return Decision("new_key")
    return Decision("new_server")  # 3, or anything VK may add later: start afresh


class LongPoll:
    """Pulls updates for one community and hands them to the sink, until cancelled."""

    def __init__(
        self,
        *,
        client: VkClient,
        group_id: int,
        sink: InboundSink,
        wait: int = 25,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
    ) -> None:
        self._client = client
        self._group_id = group_id
        self._sink = sink
        self.wait = wait
        self._backoff = Backoff(base=backoff_base, cap=backoff_cap)
        self.failing_since: float | None = None
        self.last_error = ""
        self.stopped = False
        self.cursor: PollCursor | None = None  # where a predecessor stopped (bots.polling)

    async def run(self) -> None:
        server: PollServer | None = None
        self._backoff.reset()  # a new run starts with no failures behind it
        while True:
            try:
                server = await self._cycle(server)
            except ChannelAuthError:
                self.stopped = True  # the client logged why, once
                return
            except (ChannelError, Unavailable) as exc:
                self._failed(exc)
                await asyncio.sleep(self._backoff.delay())
                continue
            self._recovered()
            self._backoff.reset()

    async def _cycle(self, server: PollServer | None) -> PollServer:
        if server is None:
            return await self._server(keep_ts=await resume(self.cursor, "VK long poll"))
        decision = decide(await self._check(server))
        if decision.action == "events":
            await self._deliver(decision.updates)
            if decision.ts:
                await remember(self.cursor, decision.ts)
            return replace(server, ts=decision.ts or server.ts)
        if decision.action == "new_ts":
            return replace(server, ts=decision.ts or server.ts)
        if decision.action == "new_key":
            return await self._server(keep_ts=server.ts)
        return await self._server(keep_ts=None)

    async def _server(self, *, keep_ts: str | None) -> PollServer:
        answer = await self._client.call(
            "groups.getLongPollServer", {"group_id": str(self._group_id)}
        )
        if not isinstance(answer, dict):
            raise PollError("groups.getLongPollServer answered without an object")
        server, key, ts = answer.get("server"), answer.get("key"), answer.get("ts")
        if not isinstance(server, str) or not isinstance(key, str) or ts is None:
            raise PollError("groups.getLongPollServer answer lacks server/key/ts")
        return PollServer(server=server, key=key, ts=keep_ts or str(ts))

    async def _check(self, server: PollServer) -> Mapping[str, JSON]:
        params = {"act": "a_check", "key": server.key, "ts": server.ts, "wait": str(self.wait)}
        timeout = aiohttp.ClientTimeout(total=self.wait + 10)
        try:
            async with self._client.session.get(
                server.server, params=params, timeout=timeout
            ) as resp:
                if resp.status != 200:
                    raise PollError(f"long-poll server answered HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PollError(f"long-poll server unreachable: {type(exc).__name__}") from exc
        except ValueError as exc:
            raise PollError("long-poll answer is not JSON") from exc
        if not isinstance(body, dict):
            raise PollError("long-poll answer is not a JSON object")
        return body

    async def _deliver(self, updates: tuple[JSON, ...]) -> None:
        for update in updates:
            try:
                inbound = parse_callback(update)
            except VkPayloadError as exc:
                log.warning("VK long poll: malformed update skipped (%s)", exc)
                continue
            if inbound is not None:
                await self._sink(inbound)

    def _failed(self, exc: Exception) -> None:
        self.last_error = str(exc)
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            log.warning("VK long poll failing (%s); retrying with back-off", exc)

    def _recovered(self) -> None:
        if self.failing_since is not None:
            log.info("VK long poll recovered after %.1f s",
                     time.monotonic() - self.failing_since)
            self.failing_since = None
            self.last_error = ""
