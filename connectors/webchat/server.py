"""The web chat connector: the WebSocket endpoint, the widget's files and the demo page.

It owns sockets and sessions: it checks the page's origin, resumes a session from its signed
token (or starts a fresh anonymous one), replays the session's history, turns frames into
``Inbound`` events for the sink and pushes replies to every open socket of a session. It
never decides what to say, never stores messages (the runtime keeps history and hands it in
through the ``history`` provider) and never logs session tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from connectors.base import Capabilities, InboundSink, Unavailable, Undeliverable
from connectors.common import clean_inbound
from connectors.webchat.frames import (
    ButtonFrame,
    ErrorCode,
    FrameError,
    Hello,
    TextFrame,
    WebHistoryItem,
    error_frame,
    parse_client_frame,
    reply_frames,
    welcome_frame,
)
from connectors.webchat.limits import ConnectionCount, MessageRate
from connectors.webchat.tokens import DEFAULT_MAX_AGE, SessionTokens
from flows.types import ButtonEvent, Channel, Event, Inbound, Reply, StartEvent, TextEvent

log = logging.getLogger("svyaz.connectors.webchat")

HistoryProvider = Callable[[str], Awaitable[list[WebHistoryItem]]]

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

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_SEND_TIMEOUT = 5.0
# Frames a socket may send before its hello; a well-behaved widget sends none.
_MAX_BEFORE_HELLO = 5
# Our own page: scripts and styles from this host only; sockets back to this host only.
_DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _static(name: str) -> bytes:
    return resources.files("connectors.webchat").joinpath("static", name).read_bytes()


def _origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


class OriginPolicy:
    """Which pages may open the socket: the listed origins, else our own and localhost."""

    def __init__(self, allowed: Sequence[str], public_url: str) -> None:
        self._exact = frozenset(_origin_of(o) for o in allowed if o.strip())
        self._default = not self._exact
        self._own = _origin_of(public_url)

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        origin = _origin_of(origin)
        if not self._default:
            return origin in self._exact
        if origin == self._own:
            return True
        parts = urlsplit(origin)
        host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
        return parts.scheme in ("http", "https") and host in _LOCAL_HOSTS


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
        allowed_origins: Sequence[str] = (),
        public_url: str,
        token_max_age: int = DEFAULT_MAX_AGE,
        max_connections_per_ip: int = 20,
        message_rate: float = 5.0,
        message_burst: float = 10.0,
        max_frame_bytes: int = 16 * 1024,
        heartbeat: float = 25.0,
        hello_timeout: float = 15.0,
    ) -> None:
        self._tokens = SessionTokens(secret_key, max_age=token_max_age)
        self._sink = sink
        self._history = history
        self._origins = OriginPolicy(allowed_origins, public_url)
        self._rate = MessageRate(rate=message_rate, burst=message_burst)
        self._connections = ConnectionCount(limit=max_connections_per_ip)
        self._max_frame = max_frame_bytes
        self._heartbeat = heartbeat
        self._hello_timeout = hello_timeout
        self._sessions: dict[str, set[web.WebSocketResponse]] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._addresses: dict[web.WebSocketResponse, str] = {}
        self._running = False
        self._files = {
            "widget.js": _static("widget.js"),
            "widget.css": _static("widget.css"),
            "demo.html": _static("demo.html"),
        }

    # ------------------------------------------------------------------ Connector protocol

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chat", self._demo),
            web.get("/chat/widget.js", self._widget_js),
            web.get("/chat/widget.css", self._widget_css),
            web.get("/chat/ws", self._websocket),
        ]

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        """Refuse new sockets and close every open one (the widget reconnects elsewhere)."""
        self._running = False
        sockets = list(self._sockets)
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping") for ws in sockets),
            return_exceptions=True,
        )

    async def send(self, user_id: str, reply: Reply, *, message_key: str) -> None:
        """Push ``reply`` to every open socket of session ``user_id``.

        Raises ``Undeliverable`` when no socket of the session is open or none took it; the
        runtime keeps the reply in the history, so the widget shows it on its next visit.
        """
        sockets = tuple(self._sessions.get(user_id, ()))
        if not sockets:
            raise Undeliverable("web chat session has no open socket")
        frames = reply_frames(reply, message_key, self.capabilities)
        delivered = await asyncio.gather(*(self._push(ws, frames) for ws in sockets))
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

    # ------------------------------------------------------------------ static files

    async def _demo(self, request: web.Request) -> web.Response:
        return self._file("demo.html", "text/html", {"Content-Security-Policy": _DEMO_CSP})

    async def _widget_js(self, request: web.Request) -> web.Response:
        return self._file("widget.js", "text/javascript")

    async def _widget_css(self, request: web.Request) -> web.Response:
        return self._file("widget.css", "text/css")

    def _file(
        self, name: str, content_type: str, extra: dict[str, str] | None = None
    ) -> web.Response:
        headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
        return web.Response(
            body=self._files[name],
            content_type=content_type,
            charset="utf-8",
            headers=headers | (extra or {}),
        )

    # ------------------------------------------------------------------ sockets

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._origins.allows(request.headers.get("Origin")):
            raise web.HTTPForbidden(text="origin not allowed")
        if not self._running:
            raise web.HTTPServiceUnavailable(text="web chat is stopped")
        ws = web.WebSocketResponse(
            heartbeat=self._heartbeat, max_msg_size=self._max_frame, compress=False, timeout=5.0
        )
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="a WebSocket upgrade is expected")
        await ws.prepare(request)
        self._sockets.add(ws)
        address = request.remote or "unknown"
        # Link-code guesses are limited per address: the runtime sees a digest, never the IP.
        self._addresses[ws] = hashlib.sha256(address.encode()).hexdigest()[:16]
        try:
            if self._connections.acquire(address):
                try:
                    await self._converse(ws)
                finally:
                    self._connections.release(address)
            else:
                await _tell(ws, "too_many_connections")
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too many connections")
        finally:
            self._sockets.discard(ws)
            self._addresses.pop(ws, None)
        return ws

    async def _converse(self, ws: web.WebSocketResponse) -> None:
        hello = await self._await_hello(ws)
        if hello is None:
            return
        known = self._tokens.verify(hello.session)
        session_id = await self._welcome(ws, known)
        if session_id is None:
            return
        self._attach(session_id, ws)
        try:
            await self._started(ws, session_id, resumed=known is not None, link=hello.link)
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._on_text(ws, session_id, message.data)
                elif message.type is WSMsgType.BINARY:
                    await _tell(ws, "bad_frame")
                else:  # ERROR: aiohttp already closes the socket (e.g. 1009 for an oversize frame)
                    break
        finally:
            self._detach(session_id, ws)

    async def _await_hello(self, ws: web.WebSocketResponse) -> Hello | None:
        """Read frames until a valid hello; anything else before it gets an error frame."""
        for _ in range(_MAX_BEFORE_HELLO):
            try:
                message = await ws.receive(timeout=self._hello_timeout)
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

    async def _welcome(self, ws: web.WebSocketResponse, known: str | None) -> str | None:
        """Send the welcome of session ``known`` (its history) or of a fresh one (none)."""
        session = self._tokens.issue(known)  # same id, fresh expiry: 30 days from last visit
        history = [] if known is None else await self._read_history(known)
        try:
            await ws.send_str(welcome_frame(session.token, history))
        except (ConnectionError, RuntimeError):
            return None  # gone already; a new session that never saw its id needs no greeting
        return session.session_id

    async def _started(
        self, ws: web.WebSocketResponse, sid: str, *, resumed: bool, link: str | None
    ) -> None:
        """Tell the sink of a new session (so the bot greets) or of a deep link."""
        if link is not None:
            digest = hashlib.sha256(link.encode()).hexdigest()[:16]  # never the token itself
            await self._accept(ws, sid, f"{sid}:link:{digest}", StartEvent(f"link-{link}"))
        elif not resumed:
            await self._accept(ws, sid, f"{sid}:start", StartEvent())
        log.info("web chat session %s %s", sid[:6], "resumed" if resumed else "started")

    async def _read_history(self, session_id: str) -> list[WebHistoryItem]:
        try:
            return await self._history(session_id)
        except Unavailable:
            log.warning("web chat history unavailable for session %s", session_id[:6])
            return []

    async def _on_text(self, ws: web.WebSocketResponse, session_id: str, raw: str) -> None:
        if not self._rate.allow(session_id):
            await _tell(ws, "rate_limited")
            return
        frame = parse_client_frame(raw)
        if isinstance(frame, FrameError):
            await _tell(ws, frame.code)
        elif isinstance(frame, TextFrame):
            event: Event = TextEvent(frame.text)
            await self._accept(ws, session_id, f"{session_id}:{frame.id}", event)
        elif isinstance(frame, ButtonFrame):
            event = ButtonEvent(frame.button)
            await self._accept(ws, session_id, f"{session_id}:{frame.id}", event)
        else:  # a second hello on an open socket
            await _tell(ws, "bad_frame")

    async def _accept(
        self, ws: web.WebSocketResponse, session_id: str, event_id: str, event: Event
    ) -> None:
        inbound = clean_inbound(
            Inbound(channel="web", user_id=session_id, event_id=event_id, event=event,
                    address=self._addresses.get(ws))
        )
        try:
            await self._sink(inbound)
        except Unavailable:
            log.warning("web chat event of session %s not recorded", session_id[:6])
            await _tell(ws, "unavailable")

    def _attach(self, session_id: str, ws: web.WebSocketResponse) -> None:
        self._sessions.setdefault(session_id, set()).add(ws)

    def _detach(self, session_id: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sessions.get(session_id)
        if sockets is None:
            return
        sockets.discard(ws)
        if not sockets:
            del self._sessions[session_id]
            self._rate.forget(session_id)

    @staticmethod
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
