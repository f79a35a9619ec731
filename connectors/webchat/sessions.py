"""The web chat's sessions open in this process: each one's sockets, whether its customer
exists, and the greeting it was shown. Bookkeeping only: no I/O (``server`` talks to sockets).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from flows.types import Reply


@dataclass(slots=True)
class Session:
    """The open sockets of one session, and whether its customer exists."""

    started: bool  # it has a customer, or its start event went to the sink
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    # The greeting shown on ``open``: the start turn's first replies, not to be shown twice.
    shown: deque[Reply] = field(default_factory=deque)


class Sessions:
    """The sessions with an open socket in this process, by session id."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __getitem__(self, session_id: str) -> Session:
        return self._by_id[session_id]

    def get(self, session_id: str) -> Session | None:
        return self._by_id.get(session_id)

    def attach(self, session_id: str, ws: web.WebSocketResponse, *, started: bool) -> None:
        session = self._by_id.get(session_id)
        if session is None:
            session = self._by_id[session_id] = Session(started=started)
        session.started = session.started or started
        session.sockets.add(ws)

    def detach(self, session_id: str, ws: web.WebSocketResponse) -> bool:
        """Forget the socket; True when it was the session's last one (the session is gone)."""
        session = self._by_id.get(session_id)
        if session is None:
            return False
        session.sockets.discard(ws)
        if session.sockets:
            return False
        del self._by_id[session_id]
        return True
