"""Long polling of MAX, ``GET /updates`` with a marker (PROTOCOLS.md A4).

Owns: the polling loop — hold each request up to 30 s, hand every understood update to the
sink, advance the marker only after the whole batch was accepted (so a storage outage means
the same batch is fetched again, and the runtime's durable de-duplication drops what was
already recorded), back off with jitter on failure, log once when polling starts failing and
once when it recovers, stop for good on a refused token.

Must not: decide what to answer or keep state beyond the marker (which lives in memory: after
a restart MAX re-sends what was not acknowledged).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from connectors.base import (
    ChannelAuthError,
    ChannelError,
    ChannelUnavailable,
    InboundSink,
    Unavailable,
)
from connectors.common import OnceSink, RecentIds
from connectors.cursor import PollCursor, remember, resume
from connectors.maxbot.client import POLL_HOLD, MaxClient
from connectors.maxbot.parse import MaxPayloadError, parse
from connectors.maxbot.webhook import RECENT_IDS
from flows.backoff import Backoff

log = logging.getLogger("svyaz.connectors.max")


class MaxPoller:
    def __init__(
        self,
        *,
        client: MaxClient,
        sink: InboundSink,
        hold: int = POLL_HOLD,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
    ) -> None:
        self._client = client
        self._sink = OnceSink(sink, RecentIds(RECENT_IDS))
        self.hold = hold
        self.backoff = Backoff(base=backoff_base, cap=backoff_cap)
        self.marker: int | None = None
        self.last_error: str | None = None
        self.cursor: PollCursor | None = None  # where a predecessor stopped (bots.polling)

    async def run(self) -> None:
        """Poll until cancelled or the token is refused."""
        await self._warn_if_webhook()
        if self.marker is None and (saved := await resume(self.cursor, "MAX polling")):
            self.marker = int(saved) if saved.isdigit() else None
        while True:
            try:
                await self.poll_once()
            except ChannelAuthError:
                self.last_error = "token refused"
                return  # the client logged it once; nothing to poll with
            except (ChannelUnavailable, Unavailable) as exc:
                await self._failed(str(exc))
                continue
            except Exception as exc:  # a bug must not end polling silently
                log.exception("MAX polling: unexpected error")
                await self._failed(f"{type(exc).__name__}: {exc}")
                continue
            self._recovered()

    async def _warn_if_webhook(self) -> None:
        try:
            urls = await self._client.webhook_urls(attempts=1)
        except ChannelError as exc:  # the first poll reports a real problem
            log.debug("MAX: could not list webhook subscriptions: %s", exc)
            return
        if urls:
            log.warning(
                "MAX: webhook subscription(s) %s exist, so long polling receives nothing; "
                "delete them or set SVYAZ_MAX_MODE=webhook",
                ", ".join(urls),
            )

    async def poll_once(self) -> int:
        """Fetch one batch and hand it over; returns how many updates were accepted."""
        data = await self._client.updates(self.marker, self.hold)
        updates, marker = data.get("updates"), data.get("marker")
        if not isinstance(updates, list) or not (marker is None or isinstance(marker, int)):
            raise ChannelUnavailable("MAX GET /updates answered without updates/marker")
        accepted = await self._accept(updates)
        if marker is not None:
            if marker != self.marker:
                await remember(self.cursor, str(marker))
            self.marker = marker
        return accepted

    async def _accept(self, updates: Sequence[object]) -> int:
        accepted = 0
        for raw in updates:
            try:
                inbound = parse(raw)
            except MaxPayloadError as exc:
                log.warning("MAX polling: skipped an update that is not well-formed: %s", exc)
                continue
            # Unavailable: the marker stays, the batch comes again
            if inbound is not None and await self._sink(inbound):
                accepted += 1
        return accepted

    async def _failed(self, error: str) -> None:
        if self.backoff.failures == 0:
            log.warning("MAX polling failed (%s); retrying with back-off", error)
        self.last_error = error
        await asyncio.sleep(self.backoff.delay())

    def _recovered(self) -> None:
        if failures := self.backoff.reset():
            log.info("MAX polling recovered after %d failed attempts", failures)
        self.last_error = None
