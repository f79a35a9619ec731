"""The MAX webhook endpoint, ``POST /max/webhook`` (PROTOCOLS.md A5).

Owns: the secret check (``X-Max-Bot-Api-Secret``, constant-time), turning the body into an
``Inbound`` via ``parse``, handing it to the sink, the HTTP answer MAX sees, and a small
in-memory memory of recent event ids so an obvious repeat is not handed over twice (the
runtime de-duplicates durably; this only saves it work).

Answers: 403 for a missing/wrong secret (nothing processed); 400 for a body that is not a MAX
update — MAX itself only sends well-formed updates, so garbage is somebody else and a retry
would not help; 503 when the sink could not record the event (``Unavailable``), so MAX
re-delivers later; otherwise 200 ``{"ok": true}``, also for update types svyaz ignores.

Must not: decide what to answer the customer or wait for the dialogue turn.
"""

from __future__ import annotations

import logging

from aiohttp import web

from connectors.base import InboundSink, Unavailable
from connectors.common import OnceSink, RecentIds, same_secret
from connectors.maxbot.parse import MaxPayloadError, parse

log = logging.getLogger("svyaz.connectors.max")

SECRET_HEADER = "X-Max-Bot-Api-Secret"
PATH = "/max/webhook"
RECENT_IDS = 2048  # event ids remembered per receiver


class MaxWebhook:
    """aiohttp handler for MAX's webhook deliveries."""

    def __init__(self, *, secret: str | None, sink: InboundSink, recent: int = RECENT_IDS) -> None:
        self._secret = secret or None
        self._sink = OnceSink(sink, RecentIds(recent))

    def route(self) -> web.RouteDef:
        return web.post(PATH, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            log.warning("MAX webhook: refused a delivery with a missing or wrong secret")
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            inbound = parse(await request.read())
        except MaxPayloadError as exc:
            log.warning("MAX webhook: rejected a body that is not a MAX update: %s", exc)
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        if inbound is None:
            return _ok()
        try:
            await self._sink(inbound)
        except Unavailable as exc:
            log.warning(
                "MAX webhook: could not record %s (%s); MAX will retry", inbound.event_id, exc
            )
            return web.json_response({"ok": False, "error": "unavailable"}, status=503)
        return _ok()

    def _authorised(self, request: web.Request) -> bool:
        if self._secret is None:
            return True
        return same_secret(request.headers.get(SECRET_HEADER, ""), self._secret)


def _ok() -> web.Response:
    """``{"ok": true}``, the answer to nearly every delivery (no JSON encoding per request)."""
    return web.Response(body=b'{"ok": true}', content_type="application/json")
