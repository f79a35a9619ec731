"""What keeps slow or idle clients from holding ``svyaz run``'s HTTP server.

Owns: the deadline for reading a request's body (a middleware), the options the aiohttp
server gets against idle and slow connections (``server_options``), and raising the soft
open-file limit to the hard one at start (``raise_open_files``).

Why these parts: every connection costs an open file, and the default soft limit is often
1,024, so a crowd of idle or trickling sockets used to lock out every webhook and customer.
aiohttp's server has no header or body read deadline of its own, but its ``keepalive_timeout``
timer (armed when a connection opens and again after each answer) closes a connection whose
next request has not fully arrived by then: since aiohttp 3.14 that bounds both an idle
keep-alive socket and a request whose headers trickle in. The body is read here, before any
handler, within ``body_timeout`` (a trickled body gets 408 and the connection is closed).
Both are public aiohttp options; a protocol wrapper of our own would reach into aiohttp's
private request handler instead.

Must not: decide anything about a request's content (handlers do).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger("svyaz.bots")

# After an error answer, how long aiohttp keeps reading a body nobody wants before closing.
LINGER = 1.0
# Connections the kernel queues while every file is taken (asyncio then stops accepting for a
# second). aiohttp's 128 overflowed under a crowd of slow connections: the kernel dropped the
# handshake's last ACK, and an idle client was left on a connection the server had forgotten.
# Linux caps it at net.core.somaxconn (4096 on current kernels).
BACKLOG = 1024


def body_deadline(seconds: float, room: Callable[[str], int | None] = lambda _: None
                  ) -> Middleware:
    """Read the whole body (at most ``client_max_size``, or what ``room`` gives the path: the
    desk's file upload) within ``seconds`` before the handler runs; later reads get it from
    memory. A body that does not arrive in time is answered 408 and its connection closed."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        larger = room(request.path) if request.body_exists else None
        if larger is not None:
            request = request.clone(client_max_size=larger)
        if request.body_exists and larger is None and request.content.is_eof():
            await request.read()  # it all came with the headers (a webhook's): no timer to arm
        elif request.body_exists:
            try:
                async with asyncio.timeout(seconds):
                    await _take_body(request, form=larger is not None)
            except TimeoutError:
                log.warning("HTTP: dropped %s %s: its body did not arrive within %.0f s",
                            request.method, request.path, seconds)
                raise web.HTTPRequestTimeout(headers={"Connection": "close"}) from None
        return await handler(request)

    return middleware


async def _take_body(request: web.Request, *, form: bool) -> None:
    """Read the body; a multipart form where one is allowed (``room``) is parsed from the
    stream instead (read raw first, the form would be empty); a broken one answers 400."""
    if not (form and request.content_type == "multipart/form-data"):
        await request.read()
        return
    try:
        await request.post()
    except ValueError as exc:
        raise web.HTTPBadRequest(text="Повреждённая форма.") from exc


def server_options(idle_timeout: float) -> dict[str, Any]:
    """Keyword arguments for ``web.run_app``/``AppRunner``: close a connection whose next
    request has not arrived ``idle_timeout`` s after it opened or was last answered."""
    return {"keepalive_timeout": idle_timeout, "lingering_time": LINGER, "backlog": BACKLOG}


def raise_open_files() -> tuple[int, int]:
    """Lift the soft open-file limit to the hard one (each connection is a file); returns
    (before, after). Left as it was where the system refuses."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft >= hard:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, exc)
        return soft, soft
    return soft, hard
