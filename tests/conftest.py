"""Shared fixtures: a real Redis for every test that needs one.

``redis_url`` is parametrised: the embedded Redis (always) and the server at ``REDIS_URL`` /
``SVYAZ_REDIS_URL`` when that is set. Each test gets its own key prefix (``bot`` name) so tests
never see each other's keys, and a flushed logical state is not needed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from storage.embedded import EmbeddedRedis


def _external_url() -> str | None:
    return os.environ.get("SVYAZ_REDIS_URL") or os.environ.get("REDIS_URL") or None


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def _backends() -> list[str]:
    return ["embedded", "external"] if _external_url() else ["embedded"]


@pytest.fixture(params=_backends())
def redis_url(request: pytest.FixtureRequest) -> str:
    if request.param == "external":
        url = _external_url()
        assert url
        return url
    server: EmbeddedRedis = request.getfixturevalue("embedded_redis")
    return server.url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def bot_prefix() -> str:
    """A fresh key namespace per test (``svyaz:<bot>:...``)."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
