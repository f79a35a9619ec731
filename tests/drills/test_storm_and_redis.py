"""Bounded versions of the error-storm and Redis-restart drills (bench/drills/storm.py and
redis_restart.py run the full ones): nothing lost, nothing doubled, never above the limit,
503 while Redis is down and every stored state readable afterwards."""

from __future__ import annotations

import argparse

import pytest

from bench.drills import redis_restart, storm

pytestmark = pytest.mark.slow


@pytest.mark.timeout(150)
async def test_max_error_storm_delivers_everything_within_the_limit() -> None:
    args = argparse.Namespace(channel="max", seconds=6.0, concurrency=4, grace=70.0)
    load, failed, peak = await storm.measure(args)
    tally = load.tally
    print(f"sent: {tally.sent} lost: {tally.lost} doubled: {tally.doubled(load.inbox)} "
          f"failed answers: {failed} peak/s: {peak}")
    assert tally.sent > 10
    assert failed > 0  # the storm really happened
    assert tally.lost == 0
    assert tally.doubled(load.inbox) == 0
    assert peak <= 30


@pytest.mark.timeout(150)
async def test_embedded_redis_restart_loses_nothing() -> None:
    args = argparse.Namespace(channel="max", redis="embedded", seconds=8.0, at=2.5, down=3.0,
                              kill=False, concurrency=12, grace=70.0)
    outcome = await redis_restart.measure(args)
    tally = outcome.load.tally
    print(f"sent: {tally.sent} lost: {tally.lost} statuses: {tally.statuses} "
          f"corrupted: {outcome.corrupted}/{outcome.customers}")
    assert tally.sent > 10
    assert outcome.restarted  # Redis really went away and came back mid-load
    assert set(tally.statuses) <= {200, 503}  # waited out or refused for a retry, never a 500
    assert tally.lost == 0
    assert tally.doubled(outcome.load.inbox) == 0
    assert outcome.customers > 0
    assert outcome.corrupted == 0
