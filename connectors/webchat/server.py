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
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import WSCloseCode, WSMsgType, web

from connectors.base import Capabilities, InboundSink, Priority, Unavailable, Undeliverable
from connectors.common import clean_inbound
from connectors.webchat.files import WidgetFiles
from connectors.webchat.frames import (
    ButtonFrame,
    ErrorCode,
    FrameError,
    Hello,
    Open,
    TextFrame,
    WebHistoryItem,
    error_frame,
    parse_client_frame,
    reply_frames,
    welcome_frame,
)
from connectors.webchat.limits import ConnectionCount, MessageRate
from connectors.webchat.origins import OriginPolicy
from connectors.webchat.sessions import Sessions
from connectors.webchat.tokens import DEFAULT_MAX_AGE, SessionTokens
from flows.types import ButtonEvent, Channel, Event, Inbound, Reply, StartEvent, TextEvent

log = logging.getLogger("svyaz.connectors.webchat")

# A session's past messages; None when the session has no customer yet (it never wrote).
HistoryProvider = Callable[[str], Awaitable[list[WebHistoryItem] | None]]
# What the bot says to a new visitor who opens the chat; computing it must save nothing.
GreetingProvider = Callable[[], Sequence[Reply]]

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

ORIGIN_REFUSED = 4403  # close code: this page may not open the chat (the widget gives up)
SERVER_RESTART = WSCloseCode.SERVICE_RESTART  # 1012: stopping (the widget reconnects)
_SEND_TIMEOUT = 5.0
# Frames a socket may send before its hello; a well-behaved widget sends none.
_MAX_BEFORE_HELLO = 5


@dataclass(slots=True)
class _Peer:
    """One socket after its hello."""

    ws: web.WebSocketResponse
    session_id: str
    address: str
    greeted: bool = False


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
    ) -> None:
        self._tokens = SessionTokens(secret_key, max_age=token_max_age)
        self._sink = sink
        self._history = history
        self._greeting = greeting
        self._origins = OriginPolicy(allowed_origins, public_url)
        self._rate = MessageRate(rate=message_rate, burst=message_burst)
        # New customers (first messages of fresh sessions) per remote address.
        self._starts = MessageRate(rate=start_rate, burst=start_burst)
        self._connections = ConnectionCount(limit=max_connections_per_ip)
        self._max_frame = max_frame_bytes
        self._heartbeat = heartbeat
        self._hello_timeout = hello_timeout
        self._sessions = Sessions()
        self._sockets: set[web.WebSocketResponse] = set()
        self._addresses: dict[web.WebSocketResponse, str] = {}
        self._running = False
        self._files = WidgetFiles(elsewhere)  # the demo page names the other channels

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
        frames = reply_frames(reply, message_key, self.capabilities)
        delivered = await asyncio.gather(*(_push(ws, frames) for ws in sockets))
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
                await _tell(ws, "too_many_connections")
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too many connections")
        finally:
            self._sockets.discard(ws)
            self._addresses.pop(ws, None)
        return ws

    async def _converse(self, ws: web.WebSocketResponse, address: str) -> None:
        hello = await _await_hello(ws, self._hello_timeout)
        if hello is None:
            return
        known = self._tokens.verify(hello.session)
        history = None if known is None else await _read_history(self._history, known)
        session_id = await _welcome(ws, self._tokens, known, history or [])
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
                    await _tell(ws, "bad_frame")
                else:  # ERROR: aiohttp already closes the socket (e.g. 1009 for an oversize frame)
                    break
        finally:
            if self._sessions.detach(session_id, ws):
                self._rate.forget(session_id)

    async def _link(self, peer: _Peer, link: str) -> None:
        """A deep link continues a dialogue: the sink redeems it at once (never the token
        itself in an event id or a log)."""
        sid = peer.session_id
        digest = hashlib.sha256(link.encode()).hexdigest()[:16]
        if await self._accept(peer.ws, sid, f"{sid}:link:{digest}", StartEvent(f"link-{link}")):
            self._sessions[sid].started = True

    async def _on_text(self, peer: _Peer, raw: str) -> None:
        sid = peer.session_id
        if not self._rate.allow(sid):
            await _tell(peer.ws, "rate_limited")
            return
        frame = parse_client_frame(raw)
        if isinstance(frame, FrameError):
            await _tell(peer.ws, frame.code)
        elif isinstance(frame, TextFrame):
            await self._message(peer, f"{sid}:{frame.id}", TextEvent(frame.text))
        elif isinstance(frame, ButtonFrame):
            await self._message(peer, f"{sid}:{frame.id}", ButtonEvent(frame.button))
        elif isinstance(frame, Open):
            await self._greet(peer)
        else:  # a second hello on an open socket
            await _tell(peer.ws, "bad_frame")

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
            for frame in reply_frames(reply, f"{key}:{index}", self.capabilities)
        ]
        await _push(peer.ws, frames)

    async def _message(self, peer: _Peer, event_id: str, event: Event) -> None:
        """A text or button; the session's first one is preceded by its start event, which
        creates the customer (at most ``start_rate`` new ones a second per address)."""
        session = self._sessions[peer.session_id]
        if not session.started:
            if not self._starts.allow(peer.address):
                await _tell(peer.ws, "rate_limited")
                return
            start = f"{peer.session_id}:start"
            if not await self._accept(peer.ws, peer.session_id, start, StartEvent()):
                return
            session.started = True
        await self._accept(peer.ws, peer.session_id, event_id, event)

    async def _accept(
        self, ws: web.WebSocketResponse, session_id: str, event_id: str, event: Event
    ) -> bool:
        inbound = clean_inbound(
            Inbound(channel="web", user_id=session_id, event_id=event_id, event=event,
                    address=self._addresses.get(ws))
        )
        try:
            await self._sink(inbound)
        except Unavailable:
            log.warning("web chat event of session %s not recorded", session_id[:6])
            await _tell(ws, "unavailable")
            return False
        return True

async def _await_hello(ws: web.WebSocketResponse, timeout: float) -> Hello | None:
    """Read frames until a valid hello; anything else before it gets an error frame."""
    for _ in range(_MAX_BEFORE_HELLO):
        try:
            message = await ws.receive(timeout=timeout)
        except TimeoutError:
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"hello expected")
            return None
        if message.type is not WSMsgType.TEXT:
            if message.type is WSMsgType.BINARY:
                await _tell(ws, "bad_frame")
                continue
            return None
        frame = parse_client_frame(message.data)
        if isinstance(frame, Hello):
            return frame
        await _tell(ws, frame.code if isinstance(frame, FrameError) else "hello_first")
    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"hello expected")
    return None


async def _welcome(
    ws: web.WebSocketResponse, tokens: SessionTokens, known: str | None,
    history: list[WebHistoryItem],
) -> str | None:
    """Send the welcome of session ``known`` (its history) or of a fresh one (none)."""
    session = tokens.issue(known)  # same id, fresh expiry: 30 days from last visit
    try:
        await ws.send_str(welcome_frame(session.token, history))
    except (ConnectionError, RuntimeError):
        return None  # gone already; a new session that never saw its id needs no greeting
    return session.session_id


async def _read_history(
    history: HistoryProvider, session_id: str
) -> list[WebHistoryItem] | None:
    """The session's history; on a storage failure, an empty one of a started session
    (starting an existing customer again would restart their dialogue)."""
    try:
        return await history(session_id)
    except Unavailable:
        log.warning("web chat history unavailable for session %s", session_id[:6])
        return []


async def _push(ws: web.WebSocketResponse, frames: list[str]) -> bool:
    try:
        for frame in frames:
            await asyncio.wait_for(ws.send_str(frame), _SEND_TIMEOUT)
    except (TimeoutError, ConnectionError, RuntimeError):
        return False
    return True


async def _tell(ws: web.WebSocketResponse, code: ErrorCode) -> None:
    """Send an error frame; a socket that is already going away is not an error of ours."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(error_frame(code))
