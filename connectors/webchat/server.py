"""The web chat connector: the WebSocket endpoint, the widget's files and the demo page.

It owns sockets and sessions: it checks the page's origin (a refused page gets close code
4403), resumes a session from its signed token (or starts a fresh anonymous one), replays the
session's history, turns frames into ``Inbound`` events for the sink and pushes replies to
every open socket of a session; stopping closes every socket with 1012 (the widget comes back).

A visitor who never writes costs nothing durable: the greeting is shown when the chat is
opened (``open``) from the ``greeting`` provider, which saves nothing, and only the first
``text`` or ``button`` of a session with no customer yet sends the session's start event (its
turn creates the customer) ahead of the message. That start turn's replies are the greeting
the visitor already saw: they are recorded by the runtime but not shown a second time.

It never decides what to say, never stores messages (the runtime keeps history and hands it in
through the ``history`` provider) and never logs session tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from connectors.base import Capabilities, InboundSink, Priority, Unavailable, Undeliverable
from connectors.common import clean_inbound
from connectors.webchat.files import Brand, WidgetFiles
from connectors.webchat.frames import (
    ButtonFrame,
    FrameError,
    Open,
    TextFrame,
    idle_frame,
    parse_client_frame,
    reply_frames,
    typing_frame,
)
from connectors.webchat.limits import ConnectionCount, MessageRate
from connectors.webchat.origins import OriginPolicy
from connectors.webchat.sessions import Sessions
from connectors.webchat.sockets import (
    ORIGIN_REFUSED,
    SERVER_RESTART,
    HistoryProvider,
    await_hello,
    hint,
    push,
    read_history,
    tell,
    welcome,
)
from connectors.webchat.tokens import DEFAULT_MAX_AGE, SessionTokens
from flows.types import ButtonEvent, Channel, Event, Inbound, Reply, StartEvent, TextEvent

log = logging.getLogger("svyaz.connectors.webchat")

# What the bot says to a new visitor who opens the chat; computing it must save nothing.
GreetingProvider = Callable[[], Sequence[Reply]]
# Whether the bot keeps quiet in a session's dialogue now (a person has it: a hand-off), so
# no ``typing`` is announced for its messages; reading it must save nothing.
QuietProvider = Callable[[str], Awaitable[bool]]
# Returns once no turn of a session's customer runs any more (the runtime's drain of it ended).
SettledProvider = Callable[[str], Awaitable[None]]

WEB_CAPABILITIES = Capabilities(
    max_text=4000,
    max_buttons=10,
    max_per_row=3,
    max_rows=10,
    max_label=64,
    link_buttons=True,
    request_phone=True,
    markdown=False,
)


@dataclass(slots=True)
class _Peer:
    """One socket after its hello."""

    ws: web.WebSocketResponse
    session_id: str
    address: str
    greeted: bool = False
    taken: int = 0  # messages this socket announced ``typing`` for
    # Each waits for the turns to end, then says ``idle`` (``_end_typing``).
    waiting: set[asyncio.Task[None]] = field(default_factory=set)


def _end_typing(peer: _Peer, settled: SettledProvider) -> None:
    """Say ``idle`` once no turn of the session runs any more: a turn that answers nothing
    (a step that only sets a value, a message sent twice) has no reply to end ``typing``.
    Only the wait of the socket's latest message speaks (an earlier one could end the
    indicator of a later message still being answered)."""
    peer.taken += 1
    mine = peer.taken

    async def wait() -> None:
        with contextlib.suppress(Unavailable):  # (then at once: a later reply still shows)
            await settled(peer.session_id)
        if peer.taken == mine:
            await hint(peer.ws, idle_frame())

    task = asyncio.create_task(wait(), name="webchat-idle")
    peer.waiting.add(task)
    task.add_done_callback(peer.waiting.discard)


class WebChat:
    """The ``web`` channel; ``user_id`` of its ``Inbound`` events is the session id."""

    channel: Channel = "web"
    capabilities: Capabilities = WEB_CAPABILITIES

    def __init__(
        self,
        *,
        secret_key: bytes,
        sink: InboundSink,
        history: HistoryProvider,
        greeting: GreetingProvider | None = None,
        quiet: QuietProvider | None = None,
        settled: SettledProvider | None = None,
        allowed_origins: Sequence[str] = (),
        public_url: str,
        token_max_age: int = DEFAULT_MAX_AGE,
        max_connections_per_ip: int = 20,
        message_rate: float = 5.0,
        message_burst: float = 10.0,
        start_rate: float = 0.2,
        start_burst: float = 20.0,
        max_frame_bytes: int = 16 * 1024,
        heartbeat: float = 25.0,
        hello_timeout: float = 15.0,
        elsewhere: Sequence[str] = (),
        brand: Brand | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tokens = SessionTokens(secret_key, max_age=token_max_age)
        self._sink, self._history, self._greeting = sink, history, greeting
        self._quiet, self._settled = quiet, settled
        self._origins = OriginPolicy(allowed_origins, public_url)
        self._rate = MessageRate(rate=message_rate, burst=message_burst)
        # New customers (first messages of fresh sessions) per remote address.
        self._starts = MessageRate(rate=start_rate, burst=start_burst)
        self._connections = ConnectionCount(limit=max_connections_per_ip)
        self._max_frame, self._heartbeat = max_frame_bytes, heartbeat
        self._hello_timeout = hello_timeout
        self._sessions = Sessions()
        self._sockets: set[web.WebSocketResponse] = set()
        self._addresses: dict[web.WebSocketResponse, str] = {}
        self._running = False
        self._files = WidgetFiles(elsewhere, brand)  # the demo page names the other channels
        self._clock = clock

    # ------------------------------------------------------------------ Connector protocol

    def routes(self) -> list[web.RouteDef]:
        return [*self._files.routes(), web.get("/chat/ws", self._websocket)]

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        """Refuse new sockets and close every open one with 1012: the widget reconnects (to
        another process, or to this one started again) and replays what it missed."""
        self._running = False
        sockets = list(self._sockets)
        await asyncio.gather(
            *(ws.close(code=SERVER_RESTART, message=b"server restarting") for ws in sockets),
            return_exceptions=True,
        )

    async def send(
        self, user_id: str, reply: Reply, *, message_key: str, priority: Priority = "live",
        since: float | None = None,
    ) -> None:
        """Push ``reply`` to every open socket of session ``user_id``.

        Raises ``Undeliverable`` when no socket of the session is open or none took it; the
        runtime keeps the reply in the history, so the widget shows it on its next visit.
        """
        session = self._sessions.get(user_id)
        if session is None or not session.sockets:
            raise Undeliverable("web chat session has no open socket")
        if session.shown:  # the start turn answers with the greeting shown on open
            if session.shown[0] == reply:
                session.shown.popleft()
                return
            session.shown.clear()
        sockets = tuple(session.sockets)
        frames = reply_frames(reply, message_key, self.capabilities, at=self._clock())
        delivered = await asyncio.gather(*(push(ws, frames) for ws in sockets))
        if not any(delivered):
            raise Undeliverable("no socket of the web chat session took the reply")

    async def answer_callback(self, inbound: Inbound) -> None:
        return None

    def health(self) -> dict[str, str | bool]:
        return {
            "ok": self._running,
            "mode": "websocket",
            "detail": f"{len(self._sockets)} sockets, {len(self._sessions)} sessions",
        }

    # ------------------------------------------------------------------ sockets

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = self._origins.allows(origin)
        if not allowed:
            self._origins.refused(origin)
        if not self._running:
            raise web.HTTPServiceUnavailable(text="web chat is stopped")
        ws = web.WebSocketResponse(
            heartbeat=self._heartbeat, max_msg_size=self._max_frame, compress=False, timeout=5.0
        )
        if not ws.can_prepare(request).ok:
            if not allowed:
                raise web.HTTPForbidden(text="origin not allowed")
            raise web.HTTPBadRequest(text="a WebSocket upgrade is expected")
        await ws.prepare(request)
        if not allowed:  # a close code the widget can read (a refused upgrade is just 1006)
            await ws.close(code=ORIGIN_REFUSED, message=b"origin not allowed")
            return ws
        self._sockets.add(ws)
        address = request.remote or "unknown"
        # Link-code guesses are limited per address: the runtime sees a digest, never the IP.
        self._addresses[ws] = hashlib.sha256(address.encode()).hexdigest()[:16]
        try:
            if self._connections.acquire(address):
                try:
                    await self._converse(ws, address)
                finally:
                    self._connections.release(address)
            else:
                await tell(ws, "too_many_connections")
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too many connections")
        finally:
            self._sockets.discard(ws)
            self._addresses.pop(ws, None)
        return ws

    async def _converse(self, ws: web.WebSocketResponse, address: str) -> None:
        hello = await await_hello(ws, self._hello_timeout)
        if hello is None:
            return
        known = self._tokens.verify(hello.session)
        history = None if known is None else await read_history(self._history, known)
        session_id = await welcome(ws, self._tokens, known, history or [])
        if session_id is None:
            return
        self._sessions.attach(session_id, ws, started=history is not None)
        peer = _Peer(ws, session_id, address)
        try:
            if hello.link is not None:
                await self._link(peer, hello.link)
            log.info("web chat session %s %s", session_id[:6], "resumed" if known else "started")
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._on_text(peer, message.data)
                elif message.type is WSMsgType.BINARY:
                    await tell(ws, "bad_frame")
                else:  # ERROR: aiohttp already closes the socket (e.g. 1009 for an oversize frame)
                    break
        finally:
            for task in tuple(peer.waiting):
                task.cancel()
            if self._sessions.detach(session_id, ws):
                self._rate.forget(session_id)

    async def _link(self, peer: _Peer, link: str) -> None:
        """A deep link continues a dialogue: the sink redeems it at once (never the token
        itself in an event id or a log)."""
        sid = peer.session_id
        digest = hashlib.sha256(link.encode()).hexdigest()[:16]
        if await self._accept(peer, f"{sid}:link:{digest}", StartEvent(f"link-{link}")):
            self._sessions[sid].started = True

    async def _on_text(self, peer: _Peer, raw: str) -> None:
        frame = parse_client_frame(raw)
        if not self._rate.allow(peer.session_id):
            await tell(peer.ws, "rate_limited", getattr(frame, "id", None))
            return
        if isinstance(frame, FrameError):
            await tell(peer.ws, frame.code, frame.id)
        elif isinstance(frame, TextFrame):
            await self._message(peer, frame.id, TextEvent(frame.text))
        elif isinstance(frame, ButtonFrame):
            await self._message(peer, frame.id, ButtonEvent(frame.button, text=frame.text))
        elif isinstance(frame, Open):
            await self._greet(peer)
        else:  # a second hello on an open socket
            await tell(peer.ws, "bad_frame")

    async def _greet(self, peer: _Peer) -> None:
        """Show the greeting to a visitor with no customer yet, once per socket; nothing is
        stored (the first message's start turn records it)."""
        session = self._sessions[peer.session_id]
        if session.started or peer.greeted or self._greeting is None:
            return
        peer.greeted = True
        replies = tuple(self._greeting())
        session.shown = deque(replies)
        # A fresh id each time: the widget drops a frame id it has seen, and a greeting shown
        # again after a reconnect (into a cleared log) must not be taken for a duplicate.
        key = f"{peer.session_id}:greeting:{secrets.token_urlsafe(6)}"
        frames = [
            frame
            for index, reply in enumerate(replies)
            for frame in reply_frames(reply, f"{key}:{index}", self.capabilities,
                                      at=self._clock())
        ]
        await push(peer.ws, frames)

    async def _message(self, peer: _Peer, client_id: str, event: Event) -> None:
        """A text or button; the session's first one is preceded by its start event, which
        creates the customer (at most ``start_rate`` new ones a second per address). The
        widget hears ``typing`` once the message is taken: written before this task yields, so
        ahead of any reply of the turn the sink has just scheduled; never while a person has
        the dialogue (asked before the message goes in: no bot reply will come). ``idle``
        follows once the turns are over (``_end_typing``)."""
        session = self._sessions[peer.session_id]
        quiet = session.started and await self._keeps_quiet(peer.session_id)
        if not session.started:
            if not self._starts.allow(peer.address):
                await tell(peer.ws, "rate_limited", client_id)
                return
            if not await self._accept(peer, f"{peer.session_id}:start", StartEvent(), client_id):
                return
            session.started = True
        accepted = await self._accept(peer, f"{peer.session_id}:{client_id}", event, client_id)
        if accepted and not quiet:
            await hint(peer.ws, typing_frame())
            if self._settled is not None:
                _end_typing(peer, self._settled)

    async def _keeps_quiet(self, session_id: str) -> bool:
        if self._quiet is None:
            return False
        try:
            return await self._quiet(session_id)
        except Unavailable:  # (the message itself then meets the same trouble)
            return False

    async def _accept(
        self, peer: _Peer, event_id: str, event: Event, client_id: str | None = None
    ) -> bool:
        inbound = clean_inbound(
            Inbound(channel="web", user_id=peer.session_id, event_id=event_id, event=event,
                    address=self._addresses.get(peer.ws))
        )
        try:
            await self._sink(inbound)
        except Unavailable:
            log.warning("web chat event of session %s not recorded", peer.session_id[:6])
            await tell(peer.ws, "unavailable", client_id)
            return False
        return True
