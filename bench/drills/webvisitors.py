"""Web chat visitors for drills: each plays the booking dialogue over a WebSocket through the
balancer, as the widget does — a socket that closes (its process was killed) is opened again
with the visitor's session (any process may take it), the history the welcome replays tells
whether the last message was received and answered, and a message that was not received is
sent again.

Each dialogue is a new person: its socket carries its own address in ``X-Forwarded-For``
(the drill's balancer is a trusted proxy, ``SVYAZ_TRUSTED_PROXIES``), as a front proxy would
pass it. Otherwise every visitor shares the drill's one address, and the web chat's limit of
new customers per address (``WebChat`` ``start_rate``: a burst of 20 per process, then one
each 5 s) refuses the drill's hundred dialogues a minute: an abuse limit working, not a loss.

Counts per message: answered (its reply came, live or in the replayed history), lost (no
reply within the wait); reply frames a visitor got twice (``doubled``: the same message id
again, which the widget would drop); reconnects; refused (an ``error`` frame answered the
message: the widget restores the draft, and the visitor sends it again a second later).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.load import DIALOGUE

REPLY_WAIT = 45.0
REFUSED_PAUSE = 1.0  # seconds before a refused message is sent again


@dataclass
class WebTally:
    sent: int = 0
    answered: int = 0
    lost: int = 0
    reconnects: int = 0
    doubled: int = 0
    stuck: int = 0
    refused: int = 0


@dataclass
class _Visitor:
    number: int
    token: str | None = None
    ws: aiohttp.ClientWebSocketResponse | None = None
    said: int = 0  # our messages the bot has received
    seen: set[str] = field(default_factory=set)  # reply frame ids

    @property
    def address(self) -> str:
        """This person's address (198.18.0.0/15, the benchmarking range)."""
        n = self.number
        return f"198.{18 + (n >> 16) % 2}.{(n >> 8) % 256}.{n % 256}"


class WebVisitors:
    def __init__(self, url: str, origin: str) -> None:
        self.url = url.replace("http://", "ws://") + "/chat/ws"
        self.origin = origin
        self.tally = WebTally()
        self._numbers = itertools.count(1)

    async def run(self, seconds: float, visitors: int) -> None:
        stop = asyncio.Event()
        async with aiohttp.ClientSession() as http:
            async def one() -> None:
                while not stop.is_set():
                    await self._dialogue(http, stop)

            tasks = [asyncio.create_task(one()) for _ in range(visitors)]
            await asyncio.sleep(seconds)
            stop.set()  # each finishes the message in flight, within its wait
            _done, stuck = await asyncio.wait(tasks, timeout=REPLY_WAIT + 15)
            for task in stuck:  # (never seen; a drill must end all the same)
                task.cancel()
                self.tally.stuck += 1
            await asyncio.gather(*stuck, return_exceptions=True)

    async def _dialogue(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        visitor = _Visitor(next(self._numbers))
        try:
            for text, needle in DIALOGUE:
                if stop.is_set():
                    return
                text = text.format(phone=f"+7917{visitor.number:07d}")
                self.tally.sent += 1
                if await self._exchange(http, visitor, text, needle):
                    self.tally.answered += 1
                else:
                    self.tally.lost += 1
                    return
        finally:
            if visitor.ws is not None:
                await visitor.ws.close()

    async def _exchange(self, http: aiohttp.ClientSession, visitor: _Visitor, text: str,
                        needle: str) -> bool:
        deadline = time.monotonic() + REPLY_WAIT
        received = False
        while time.monotonic() < deadline:
            try:
                if visitor.ws is None:
                    history = await self._connect(http, visitor)
                    received, answered = _received(history, visitor.said + 1, needle)
                    if answered:
                        visitor.said += 1
                        return True
                assert visitor.ws is not None
                if not received:
                    await visitor.ws.send_json({"type": "text", "text": text,
                                                "id": f"m{visitor.said}"})
                    received = True  # unless the socket closes first (then history tells)
                if await self._reply(visitor, needle, deadline):
                    visitor.said += 1
                    return True
            except _Refused:
                received = False
                self.tally.refused += 1
                await asyncio.sleep(REFUSED_PAUSE)
            except (aiohttp.ClientError, ConnectionError, TimeoutError, _Closed):
                if visitor.ws is not None:
                    with contextlib.suppress(Exception):
                        await visitor.ws.close()
                visitor.ws = None
                received = False
                self.tally.reconnects += 1
                await asyncio.sleep(0.3)
        return False

    async def _connect(self, http: aiohttp.ClientSession,
                       visitor: _Visitor) -> list[dict[str, Any]]:
        headers = {"Origin": self.origin, "X-Forwarded-For": visitor.address}
        visitor.ws = await http.ws_connect(self.url, headers=headers,
                                           timeout=aiohttp.ClientWSTimeout(ws_close=2))
        await visitor.ws.send_json({"type": "hello", "session": visitor.token})
        welcome = await _frame(visitor.ws, 10.0)
        if welcome.get("type") != "welcome":
            raise _Closed
        visitor.token = welcome["session"]
        history: list[dict[str, Any]] = welcome.get("history") or []
        return history

    async def _reply(self, visitor: _Visitor, needle: str, deadline: float) -> bool:
        assert visitor.ws is not None
        while time.monotonic() < deadline:
            frame = await _frame(visitor.ws, max(0.1, deadline - time.monotonic()))
            if frame.get("type") == "error" and frame.get("id") == f"m{visitor.said}":
                raise _Refused(frame.get("code"))
            if frame.get("type") != "reply":
                continue
            if frame.get("id") in visitor.seen:
                self.tally.doubled += 1
                print(f"doubled web frame {frame.get('id')} at {time.time():.3f}",
                      file=sys.stderr)
            visitor.seen.add(str(frame.get("id")))
            if needle in (frame.get("text") or ""):
                return True
        return False


class _Closed(Exception):
    pass


class _Refused(Exception):
    """An ``error`` frame answered the visitor's message: it was not taken."""


async def _frame(ws: aiohttp.ClientWebSocketResponse, timeout: float) -> dict[str, Any]:
    # Not ``receive(timeout=...)``: aiohttp starts that timeout again after each ping it
    # answers, and the server pings every 25 s, so a wait of 45 s never ended ("stuck").
    message = await asyncio.wait_for(ws.receive(), timeout)
    if message.type != aiohttp.WSMsgType.TEXT:
        raise _Closed
    frame: dict[str, Any] = message.json()
    return frame


def _received(history: list[dict[str, Any]], count: int,
              needle: str) -> tuple[bool, bool]:
    """Whether the visitor's ``count``-th message is in the history, and whether the bot's
    last answer after it holds ``needle``."""
    ins = [i for i, item in enumerate(history) if item.get("direction") == "in"]
    if len(ins) < count:
        return False, False
    after = [item.get("text") or "" for item in history[ins[count - 1] + 1:]
             if item.get("direction") == "out"]
    return True, any(needle in text for text in after)
