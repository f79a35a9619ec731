"""``/healthz`` and ``/metrics``: what the running bot says about itself.

This module owns the health report's shape and its rule (red when anything is wrong; 503 only
without Redis, so a refused VK token does not take the web chat out of a load balancer) and
serves the Prometheus text. It must not change anything it looks at.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from bots.metrics import CONTENT_TYPE
from bots.parts import Edge, Parts
from connectors.base import Connector
from flows.types import Channel
from storage.errors import StorageError


async def redis_health(parts: Parts | None) -> dict[str, object]:
    """Whether Redis answers, and what the on-call engineer should look at when not."""
    redis: dict[str, object] = {"ok": False, "embedded": bool(parts and parts.embedded)}
    if parts is not None:
        try:
            await parts.store.probe()
            redis["ok"] = True
        except Exception as exc:  # what the on-call engineer should look at
            redis["error"] = str(exc) if isinstance(exc, StorageError) else repr(exc)
    return redis


def report(
    parts: Parts | None, redis: dict[str, object], channels: dict[Channel, dict[str, str | bool]],
    *, busy: int, incidents: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    reminders = parts.reminders if parts is not None else None
    return {
        "ok": bool(redis["ok"]) and all(bool(h.get("ok")) for h in channels.values()),
        "redis": redis,
        "channels": channels,
        "scheduler": {"ok": reminders is not None and reminders.scheduler.running,
                      "leader": bool(reminders and reminders.leader)},
        "flows": {"loaded": sorted(parts.flows.current().flows) if parts else [],
                  "reloads": parts.flows.reloads if parts else 0},
        "turns_in_progress": busy,
        "spare": parts.spare.health() if parts else {},
        "incidents": incidents or [],  # open ones (``bots.incidents``), oldest first
    }


async def _incidents(parts: Parts | None) -> list[dict[str, object]]:
    if parts is None:
        return []
    try:
        found = await parts.store.incidents.current()
    except StorageError:
        return []
    return [{"kind": i.kind, "detail": i.detail, "since": i.since} for i in found]


class Health:
    """The two routes, bound to the edge and the connectors."""

    def __init__(self, edge: Edge, connectors: Mapping[Channel, Connector]) -> None:
        self._edge = edge
        self._connectors = connectors

    async def healthz(self, request: web.Request) -> web.Response:
        parts = self._edge.started
        redis = await redis_health(parts)
        channels = {ch: c.health() for ch, c in self._connectors.items()}
        body = report(parts, redis, channels, busy=self._edge.busy,
                      incidents=await _incidents(parts) if redis["ok"] else [])
        return web.json_response(body, status=200 if redis["ok"] else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self._edge.metrics.render(),
                            headers={"Content-Type": CONTENT_TYPE})
