"""The embedded Redis is capped (``SVYAZ_REDIS_MAXMEMORY``, policy ``noeviction``): full, it
refuses writes, so a MAX webhook answers 503 (MAX re-delivers), the log and ``/healthz`` say
why, no dialogue is evicted to make room, and all is well again once space is freed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.exceptions import ResponseError

from bots.app import EDGE, build_app
from bots.config import Settings
from storage.embedded import DEFAULT_MAXMEMORY, EmbeddedRedis
from tests.fakes import max_wire
from tests.fakes.max import MaxFake, start_fake
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
SECRET = "max-secret"
CAP = "6mb"
JUNK = b"x" * 65_536
LIMIT = 2000  # keys of junk: 128 MB, far above the cap
MARGIN = 256 * 1024  # bytes under the used memory once full: far above any key the bot frees


async def fill(redis: Any) -> int:
    """Write junk up to the cap, to its last few bytes; how many keys."""
    filled, refusals = 0, []
    for size in (65_536, 4096, 256, 16):
        while filled < LIMIT:
            try:
                await redis.set(f"junk:{filled}", JUNK[:size])
            except ResponseError as exc:
                refusals.append(str(exc))
                break
            filled += 1
    assert all("maxmemory" in r for r in refusals), refusals
    return filled


async def hold_full(redis: Any) -> None:
    """Lower the cap a little under what is used now: a key expiring or deleted meanwhile (a
    lock released, the health probe's own key) must not open room again before the checks
    (on a slow machine a freed lock let ``/healthz``'s probe write through)."""
    used = int((await redis.info("memory"))["used_memory"])
    await redis.config_set("maxmemory", used - MARGIN)


@pytest.fixture
async def max_fake() -> AsyncIterator[MaxFake]:
    fake, runner = await start_fake()
    yield fake
    fake._wake.set()
    await runner.cleanup()


@pytest.fixture
async def bot(max_fake: MaxFake, bot_prefix: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, bot=bot_prefix, flows=ROOT / "tests" / "bots" / "flows",
        data_dir=tmp_path / "data", redis_maxmemory=CAP,
        max_token=max_fake.token, max_mode="webhook", max_webhook_secret=SECRET,
        max_api_url=max_fake.url, max_bot_username=max_fake.username,
    )
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        yield client


def test_the_default_cap_refuses_writes_and_never_evicts(tmp_path: Path) -> None:
    import redis as redis_sync

    with EmbeddedRedis(tmp_path) as server:
        client = redis_sync.Redis(unix_socket_path=server.socket_path)
        got = client.config_get("maxmemory*")
        client.close()
    assert int(got["maxmemory"]) == 256 * 1024 * 1024
    assert DEFAULT_MAXMEMORY == "256mb"
    assert got["maxmemory-policy"] == "noeviction"


async def test_a_full_redis_answers_503_says_why_and_recovers(
    bot: TestClient, max_fake: MaxFake, caplog: pytest.LogCaptureFixture,
) -> None:
    redis = bot.app[EDGE].parts.store.redis
    webhook = str(bot.make_url("/max/webhook"))
    status, _ = await max_fake.push(webhook, max_wire.message_created(71, "/start"),
                                    secret=SECRET)
    assert status == 200
    edge = bot.app[EDGE]
    await until(lambda: max_fake.sent and not edge.busy, what="the first turn's reply")
    filled = await fill(redis)
    assert 0 < filled < LIMIT  # the cap (6 MB), not the machine, stopped it
    await hold_full(redis)

    status, _ = await max_fake.push(webhook, max_wire.message_created(72, "/start"),
                                    secret=SECRET)
    assert status == 503  # MAX re-delivers it later
    assert "MAX will retry" in caplog.text
    health = await bot.get("/healthz")
    assert health.status == 503
    reason = (await health.json())["redis"]["error"]
    assert "OOM" in reason
    assert "maxmemory" in reason

    await redis.delete(*[f"junk:{n}" for n in range(filled)])
    await redis.config_set("maxmemory", CAP)
    assert (await bot.get("/healthz")).status == 200
    status, _ = await max_fake.push(webhook, max_wire.message_created(72, "/start"),
                                    secret=SECRET)
    assert status == 200
    assert await bot.app[EDGE].parts.store.identities.customer_of("max:71") is not None
