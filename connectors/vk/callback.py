"""The Callback API endpoint, ``POST /vk/callback`` (PROTOCOLS.md B4).

Owns the HTTP side of VK's push: the ``confirmation`` answer, the ``secret`` check (403 and
nothing processed on a mismatch), 400 for a body VK would never send, a small memory of
recent ``event_id``s to skip obvious re-deliveries, and the reply ``ok`` only after the sink
has durably accepted the event (503 when it could not, so VK sends it again). The runtime's
sink does the real de-duplication. It must not decide anything about the dialogue.
"""

from __future__ import annotations

import logging

from aiohttp import web

from connectors.base import InboundSink, Unavailable
from connectors.common import OnceSink, RecentIds, load_json, same_secret

from .parse import Envelope, VkPayloadError, parse_envelope, parse_event

log = logging.getLogger("svyaz.connectors.vk")

PATH = "/vk/callback"


class CallbackEndpoint:
    """aiohttp handler for VK's Callback API notifications."""

    def __init__(
        self,
        *,
        sink: InboundSink,
        group_id: int,
        secret: str | None,
        confirmation: str | None,
        recent: RecentIds | None = None,
    ) -> None:
        self._sink = OnceSink(sink, recent or RecentIds())
        self._group_id = group_id
        self._secret = secret
        self._confirmation = confirmation

    def route(self) -> web.RouteDef:
        return web.post(PATH, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            envelope = parse_envelope(load_json(await request.read()))
        except (ValueError, VkPayloadError) as exc:
            log.warning("VK callback: malformed body rejected (%s)", _short(exc))
            return web.Response(status=400, text="bad request")
        refusal = self._refusal(envelope)
        if refusal is not None:
            return refusal
        if envelope.type == "confirmation":
            return self._confirm()
        return await self._accept(envelope, retry=request.headers.get("X-Retry-Counter"))

    def _refusal(self, envelope: Envelope) -> web.Response | None:
        if envelope.group_id is not None and envelope.group_id != self._group_id:
            log.warning("VK callback: group_id %s is not ours; rejected", envelope.group_id)
            return web.Response(status=403, text="wrong group")
        if self._secret_ok(envelope):
            return None
        log.warning("VK callback: bad secret; %s rejected", envelope.type)
        return web.Response(status=403, text="Bad Secret")

    def _secret_ok(self, envelope: Envelope) -> bool:
        if not self._secret:
            return True
        if envelope.secret is None:
            # VK may omit the secret on the confirmation request (UNCONFIRMED, PROTOCOLS B4).
            return envelope.type == "confirmation"
        return same_secret(envelope.secret, self._secret)

    def _confirm(self) -> web.Response:
        if not self._confirmation:
            log.error("VK callback: confirmation requested but SVYAZ_VK_CONFIRMATION is unset")
            return web.Response(status=500, text="confirmation string not configured")
        return web.Response(text=self._confirmation, content_type="text/plain")

    async def _accept(self, envelope: Envelope, *, retry: str | None) -> web.Response:
        if self._sink.seen(envelope.event_id):
            log.debug("VK callback: repeated event %s skipped", envelope.event_id)
            return _ok()
        try:
            inbound = parse_event(envelope)
        except VkPayloadError as exc:
            log.warning("VK callback: malformed %s rejected (%s)", envelope.type, _short(exc))
            return web.Response(status=400, text="bad request")
        if inbound is None:
            return _ok()
        if retry:
            log.debug("VK callback: re-delivery %s of event %s", retry, inbound.event_id)
        try:
            await self._sink(inbound)
        except Unavailable as exc:
            log.warning("VK callback: event %s not recorded (%s); VK will retry",
                        inbound.event_id, exc)
            return web.Response(status=503, text="try later")
        return _ok()


def _ok() -> web.Response:
    return web.Response(text="ok", content_type="text/plain")


def _short(exc: Exception, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "…"
