"""storage.takeover: breaking a dead process's locks costs a round trip per batch of deletions
and a SCAN per thousand keys (what they free: tests/storage/test_state.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster

from storage.store import Store
from storage.takeover import BREAK_BATCH
from tests.roundtrips import RoundTrips


async def test_locks_are_broken_a_full_batch_per_round_trip(
    store: Store, round_trips: RoundTrips, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(store.redis, RedisCluster):
        pytest.skip("a cluster pipeline is split by node: its batches are not ours to count")
    held = [f"c{n}" for n in range(2 * BREAK_BATCH + 2)]
    for n in range(0, len(held), 50):
        await asyncio.gather(*(store.states.locks.acquire(c) for c in held[n:n + 50]))
    keys = await store.redis.dbsize()
    batches: list[int] = []
    execute = Pipeline.execute

    async def counted(self: Pipeline, raise_on_error: bool = True) -> list[Any]:
        batches.append(len(self.command_stack))
        return await execute(self, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", counted)
    before = round_trips.count
    assert sorted(await store.states.breaker.break_all()) == sorted(held)
    assert batches == [BREAK_BATCH, BREAK_BATCH, 2]
    # SCAN asks for a thousand keys a call: a few calls, not one per ten keys (its default).
    scans = round_trips.count - before - len(batches)
    assert 1 <= scans <= keys // 100
