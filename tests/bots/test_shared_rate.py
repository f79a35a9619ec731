"""VK's and MAX's rate limits across processes: three senders, each with its own Redis client
and limiter (as three ``svyaz run`` would have), share one budget through Redis; counted at
the platform fakes. Also the fast lane across senders, the fallback when Redis hangs, and the
wiring in ``bots.ratelimits``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bots.ratelimits import share_if_shared, share_limits
from connectors.common import ArrivalLimiter
from connectors.maxbot import MaxConnector
from connectors.maxbot import client as max_client
from connectors.ratelimit import RateLimiter, SharedLimiter
from connectors.vk import VkConnector
from connectors.vk import client as vk_client
from connectors.vk.client import RetryPolicy as VkRetry
from connectors.vk.client import VkClient
from flows.types import Reply
from storage.client import make_redis
from storage.embedded import EmbeddedRedis
from storage.keys import Keys
from storage.ratelimit import MARK_EVERY, RedisSlots
from storage.store import Store
from tests.fakes import vk as vk_fakes
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.fakes.vk import FakeVk

fake_vk_factory = vk_fakes.fake_vk_factory
fake_vk = vk_fakes.fake_vk

SENDERS = 3
Limiters = Callable[[str, int, float], Awaitable[list[RateLimiter]]]


@pytest.fixture
async def shared(redis_url: str, bot_prefix: str) -> AsyncIterator[Limiters]:
    """``await shared(platform, rate, per)``: one ``SharedLimiter`` per sender, each on a
    Redis client of its own (closed and the keys removed afterwards)."""
    clients: list[aioredis.Redis] = []
    keys = Keys(bot_prefix)

    async def make(platform: str, rate: int, per: float) -> list[RateLimiter]:
        made: list[RateLimiter] = []
        for n in range(SENDERS):
            client = make_redis(redis_url)
            clients.append(client)  # type: ignore[arg-type]
            slots = RedisSlots(client, keys, platform=platform, member=f"p{n}", per=per)
            made.append(SharedLimiter(slots, rate=rate, per=per, name=platform))
        return made

    yield make
    if clients:
        await clients[0].delete(keys.rate_slots("vk"), keys.rate_peers("vk"),
                                keys.rate_slots("max"), keys.rate_peers("max"))
    for client in clients:
        await client.aclose()


async def _vk_burst(fake: FakeVk, limiters: list[RateLimiter], each: int) -> None:
    clients = [VkClient(token=fake.token, api_url=fake.api_url, limiter=limiter,
                        retry=VkRetry(attempts=3, base=0.01)) for limiter in limiters]

    async def one(client: VkClient, n: int) -> None:
        await client.call("messages.send", {"peer_id": str(100 + n), "message": "текст",
                                            "random_id": str(n)})

    await asyncio.gather(*(one(c, i * 1000 + n) for i, c in enumerate(clients)
                           for n in range(each)))
    for client in clients:
        await client.close()


async def test_three_vk_senders_never_exceed_twenty_requests_in_a_second(
    fake_vk: FakeVk, shared: Limiters
) -> None:
    limiters = await shared("vk", vk_client.RATE, vk_client.RATE_WINDOW)
    await _vk_burst(fake_vk, limiters, 20)
    assert len(fake_vk.calls_of("messages.send")) == 60
    assert fake_vk.max_rate(1.0) <= 20


async def test_three_local_limiters_would_exceed_the_vk_limit(fake_vk: FakeVk) -> None:
    """Control for the test above: each sender's own limiter alone lets the three send 60
    in the first second, which the count at the fake catches."""
    limiters: list[RateLimiter] = [ArrivalLimiter(vk_client.RATE, 1.0) for _ in range(SENDERS)]
    await _vk_burst(fake_vk, limiters, 20)
    assert fake_vk.max_rate(1.0) > 20


async def test_three_max_senders_never_exceed_thirty_requests_in_a_second(
    max_fake: MaxFake, shared: Limiters
) -> None:
    limiters = await shared("max", max_client.RATE, max_client.WINDOW)
    connectors = [_max(max_fake, limiter) for limiter in limiters]
    await asyncio.gather(*(c.send(str(100 + i * 100 + n), Reply(text="текст"),
                                  message_key=f"k{i}-{n}")
                           for i, c in enumerate(connectors) for n in range(25)))
    for c in connectors:
        await c.stop()
    assert len(max_fake.sent) == 75
    assert max_fake.max_in_window(1.0) <= 30


def _max(fake: MaxFake, limiter: RateLimiter) -> MaxConnector:
    async def nowhere(inbound: object) -> None:
        raise AssertionError("no inbound expected")

    connector = MaxConnector(token=fake.token, api_url=fake.url, mode="webhook",
                             webhook_secret=None, sink=nowhere,
                             retry=max_client.RetryPolicy(3, 0.01, 0.02))
    connector.client.limiter = limiter
    return connector


async def test_a_live_reply_of_one_sender_goes_before_the_bulk_of_the_others(
    fake_vk: FakeVk, shared: Limiters
) -> None:
    """Two senders queue 16 reminders each at 4 per 0.25 s (3 of them for bulk); the third
    sender's live reply, asked for after the bulk, still goes out among the first few."""
    bulk_a, bulk_b, live = await shared("vk", 4, 0.25)
    senders = {name: VkConnector(token=fake_vk.token, group_id=fake_vk.group_id,
                                 sink=_nowhere, api_url=fake_vk.api_url, limiter=limiter)
               for name, limiter in (("a", bulk_a), ("b", bulk_b), ("live", live))}

    async def send(name: str, peer: int, priority: str) -> None:
        await senders[name].send(str(peer), Reply(text=name), message_key=f"{name}{peer}",
                                 priority="bulk" if priority == "bulk" else "live")

    queued = [asyncio.create_task(send(name, 200 + n, "bulk"))
              for n in range(16) for name in ("a", "b")]
    await asyncio.sleep(0)
    await send("live", 7, "live")
    await asyncio.gather(*queued)
    for connector in senders.values():
        await connector.stop()
    order = [m.peer_id for m in fake_vk.sent]
    assert order.index(7) < 8  # without the reserved slot it would wait for all 32
    assert fake_vk.max_rate(0.25) <= 4


async def _nowhere(inbound: object) -> None:
    raise AssertionError("no inbound expected")


def _quick_vk_limiters(url: str, prefix: str) -> list[SharedLimiter]:
    """``SENDERS`` VK limiters of 6 per 0.25 s sharing ``url``, each with its own client,
    falling back after 0.2 s without an answer."""
    limiters = []
    for n in range(SENDERS):
        slots = RedisSlots(make_redis(url), Keys(prefix), platform="vk", member=f"p{n}",
                           per=0.25)
        limiters.append(SharedLimiter(slots, rate=6, per=0.25, name="vk", patience=0.2))
    return limiters


async def test_senders_fall_back_within_the_limit_when_redis_hangs(
    tmp_path: Path, fake_vk: FakeVk
) -> None:
    """Redis stops answering (CLIENT PAUSE on a private server): each of the three senders,
    having seen two peers, sends at most a third of the rate; together within it."""
    with EmbeddedRedis(tmp_path / "redis", persist=False) as server:
        admin = make_redis(server.url)
        limiters = _quick_vk_limiters(server.url, "fb")
        for limiter in limiters:  # each marks itself among the senders,
            async with limiter.slot():
                pass
        await asyncio.sleep(MARK_EVERY)  # (marks go at most once a second)
        for limiter in limiters:  # then learns how many send
            async with limiter.slot():
                pass
        assert [limiter.peers for limiter in limiters] == [3, 3, 3]
        await admin.execute_command("CLIENT", "PAUSE", "4000", "ALL")
        await _vk_burst(fake_vk, list(limiters), 6)
        assert all(limiter.falling_back for limiter in limiters)
        await admin.aclose()
    assert len(fake_vk.calls_of("messages.send")) == 18
    assert fake_vk.max_rate(0.25) <= 6


async def test_senders_that_just_started_wait_for_redis_instead_of_guessing_their_share(
    tmp_path: Path, fake_vk: FakeVk
) -> None:
    """Three senders start together, each answered once (so each saw only those that marked
    before it: 1, 2, 3), then Redis stops answering: none falls back on that count; they wait
    for the store, and the platform never sees more than the rate. (Before: the first took
    the whole rate, the second half, the third a third: 11 in a window of 6.)"""
    with EmbeddedRedis(tmp_path / "redis", persist=False) as server:
        admin = make_redis(server.url)
        limiters = _quick_vk_limiters(server.url, "st")
        for limiter in limiters:
            async with limiter.slot():
                pass
        assert [limiter.peers for limiter in limiters] == [0, 0, 0]  # not trusted yet
        await admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")
        await _vk_burst(fake_vk, list(limiters), 6)
        await admin.aclose()
    assert len(fake_vk.calls_of("messages.send")) == 18
    assert fake_vk.max_rate(0.25) <= 6


async def test_the_app_shares_vk_and_max_limits_through_redis(redis_url: str,
                                                              bot_prefix: str) -> None:
    store = Store(make_redis(redis_url), bot=bot_prefix)
    vk = VkConnector(token="t", group_id=1, sink=_nowhere)
    maxc = MaxConnector(token="t", api_url="http://127.0.0.1:9", mode="webhook",
                        webhook_secret=None, sink=_nowhere)
    share_limits({"vk": vk, "max": maxc}, store)
    assert isinstance(vk.client.limiter, SharedLimiter)
    assert isinstance(maxc.client.limiter, SharedLimiter)
    assert (vk.client.limiter.rate, maxc.client.limiter.rate) == (20, 30)
    await store.redis.aclose()
    await maxc.stop()
    await vk.stop()


async def test_one_process_on_the_embedded_redis_keeps_its_own_limiter(
    redis_url: str, bot_prefix: str,
) -> None:
    store = Store(make_redis(redis_url), bot=bot_prefix)
    vk = VkConnector(token="t", group_id=1, sink=_nowhere)
    assert not share_if_shared(None, {"vk": vk}, store)  # no SVYAZ_REDIS_URL: one process
    assert not isinstance(vk.client.limiter, SharedLimiter)
    assert share_if_shared(redis_url, {"vk": vk}, store)
    assert isinstance(vk.client.limiter, SharedLimiter)
    await store.redis.aclose()
    await vk.stop()
