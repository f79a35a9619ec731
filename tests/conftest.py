"""Shared fixtures: a real Redis for every test that needs one.

``redis_url`` is parametrised: the embedded Redis (always) and the server at ``REDIS_URL`` /
``SVYAZ_REDIS_URL`` when that is set. Each test gets its own key prefix (``bot`` name) so tests
never see each other's keys, and a flushed logical state is not needed.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from storage.embedded import EmbeddedRedis
from tests.roundtrips import round_trips  # noqa: F401 - the fixture, for every folder


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Every test starts with the logging set-up the session started with.

    ``svyaz run`` (bots.cmd_run, run in-process by the CLI tests) configures logging for a
    real process: a root handler writing to that test's captured stderr, the root at INFO,
    some libraries' loggers at WARNING. Left in place, later tests' log checks would depend
    on whether a CLI test ran before them (INFO records the root now lets through, a handler
    writing to a closed capture). After each test, every logger's level, propagation and
    ``disabled`` are put back, and handlers the test added are removed and closed (pytest's
    own capture handlers excepted: pytest adds and removes those itself).
    """
    saved = {x: (x.level, set(x.handlers), x.propagate, x.disabled) for x in _loggers()}
    yield
    for logger in _loggers():
        level, handlers, propagate, disabled = saved.get(logger, (logging.NOTSET, set(),
                                                                  True, False))
        for handler in list(logger.handlers):
            if handler not in handlers and not type(handler).__module__.startswith("_pytest"):
                logger.removeHandler(handler)
                handler.close()
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled


def _loggers() -> list[logging.Logger]:
    known = logging.Logger.manager.loggerDict.values()
    return [logging.getLogger(), *(x for x in known if isinstance(x, logging.Logger))]


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
