"""The web chat's socket chores: the hello handshake, the welcome, pushing frames and
telling errors. Small helpers over one ``WebSocketResponse``; no sessions, no decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode, WSMsgType, web

from connectors.base import Unavailable
from connectors.webchat.frames import (
    ErrorCode,
    FrameError,
    Hello,
    WebHistoryItem,
    error_frame,
    parse_client_frame,
    welcome_frame,
)
from connectors.webchat.tokens import SessionTokens

log = logging.getLogger("svyaz.connectors.webchat")

# A session's past messages; None when the session has no customer yet (it never wrote).
HistoryProvider = Callable[[str], Awaitable[list[WebHistoryItem] | None]]

ORIGIN_REFUSED = 4403  # close code: this page may not open the chat (the widget gives up)
SERVER_RESTART = WSCloseCode.SERVICE_RESTART  # 1012: stopping (the widget reconnects)
_SEND_TIMEOUT = 5.0
# Frames a socket may send before its hello; a well-behaved widget sends none.
_MAX_BEFORE_HELLO = 5


async def await_hello(ws: web.WebSocketResponse, timeout: float) -> Hello | None:
    """Read frames until a valid hello; anything else before it gets an error frame."""
    for _ in range(_MAX_BEFORE_HELLO):
        try:
            message = await ws.receive(timeout=timeout)
        except TimeoutError:
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"hello expected")
            return None
        if message.type is not WSMsgType.TEXT:
            if message.type is WSMsgType.BINARY:
                await tell(ws, "bad_frame")
                continue
            return None
        frame = parse_client_frame(message.data)
        if isinstance(frame, Hello):
            return frame
        await tell(ws, frame.code if isinstance(frame, FrameError) else "hello_first")
    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"hello expected")
    return None


async def welcome(
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


async def read_history(
    history: HistoryProvider, session_id: str
) -> list[WebHistoryItem] | None:
    """The session's history; on a storage failure, an empty one of a started session
    (starting an existing customer again would restart their dialogue)."""
    try:
        return await history(session_id)
    except Unavailable:
        log.warning("web chat history unavailable for session %s", session_id[:6])
        return []


async def push(ws: web.WebSocketResponse, frames: list[str]) -> bool:
    try:
        for frame in frames:
            await asyncio.wait_for(ws.send_str(frame), _SEND_TIMEOUT)
    except (TimeoutError, ConnectionError, RuntimeError):
        return False
    return True


async def hint(ws: web.WebSocketResponse, frame: str) -> None:
    """Send a frame nobody waits for (``typing``) at once: aiohttp writes it to the transport
    before the first await that could yield, so it goes out ahead of frames other tasks send
    later. A socket going away is no error."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(frame)


async def tell(
    ws: web.WebSocketResponse, code: ErrorCode, client_id: str | None = None
) -> None:
    """Send an error frame (answering the frame ``client_id``, when known); a socket that is
    already going away is not an error of ours."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(error_frame(code, client_id))
