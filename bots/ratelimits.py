"""The platforms' rate limits made global: every process sending with one VK community or MAX
bot token shares one budget in Redis (VK 20, MAX 30 requests per second).

This module owns that wiring only: it swaps each platform client's own limiter for a
``connectors.ratelimit.SharedLimiter`` over ``storage.ratelimit.RedisSlots``, keeping its rate
and window (so a benchmark that lifted the rate keeps it lifted). It must not send or wait.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from connectors.base import Connector
from connectors.ratelimit import RateLimiter, SharedLimiter
from flows.types import Channel
from storage.ratelimit import MARK_EVERY, RedisSlots
from storage.store import Store


def share_limits(connectors: Mapping[Channel, Connector], store: Store) -> None:
    """Give every platform connector's client (those with a limiter: VK, MAX) a limiter
    shared through ``store``'s Redis."""
    member = f"{store.instance}-{secrets.token_hex(4)}"  # this process among the senders
    for platform, connector in connectors.items():
        client = getattr(connector, "client", None)
        limiter: RateLimiter | None = getattr(client, "limiter", None)
        if client is None or limiter is None or isinstance(limiter, SharedLimiter):
            continue
        slots = RedisSlots(store.redis, store.keys, platform=platform, member=member,
                           per=limiter.per)
        client.limiter = SharedLimiter(slots, rate=limiter.rate, per=limiter.per, name=platform,
                                       settle=MARK_EVERY)  # every peer has marked itself


def share_if_shared(redis_url: str | None, connectors: Mapping[Channel, Connector],
                    store: Store) -> bool:
    """Share the limits only when several processes can share the Redis (``SVYAZ_REDIS_URL``):
    the embedded Redis serves one process, whose own limiter already keeps the platform's
    limit, and a send slot in Redis costs about six commands and two round trips. True when
    shared."""
    if redis_url is None:
        return False
    share_limits(connectors, store)
    return True
