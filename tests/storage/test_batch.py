"""storage.batch: script calls of one loop iteration share a pipeline, each with its own fate."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from storage.batch import BatchedScript, Call, batcher

INCR_LUA = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAIL_LUA = "if ARGV[1] == 'bad' then return redis.error_reply('refused') end return ARGV[1]"


def _key() -> str:
    return f"test:batch:{uuid.uuid4().hex}"


async def test_calls_of_one_iteration_go_as_one_pipeline(redis_client: aioredis.Redis) -> None:
    incr = BatchedScript(redis_client, redis_client.register_script(INCR_LUA))
    stats = batcher(redis_client)
    before = stats.batches, stats.batched
    keys = [_key() for _ in range(20)]
    replies = await asyncio.gather(*(incr(keys=[k], args=[n]) for n, k in enumerate(keys)))
    assert replies == list(range(20))
    assert (stats.batches - before[0], stats.batched - before[1]) == (1, 20)
    assert [int(v) for v in await redis_client.mget(keys)] == list(range(20))
    await redis_client.delete(*keys)


async def test_a_lone_call_and_calls_in_sequence_go_straight(
    redis_client: aioredis.Redis,
) -> None:
    incr = BatchedScript(redis_client, redis_client.register_script(INCR_LUA))
    stats = batcher(redis_client)
    before = stats.batches
    key = _key()
    for n in range(1, 4):
        assert await incr(keys=[key], args=[1]) == n
    assert stats.batches == before
    await redis_client.delete(key)


async def test_a_call_is_sent_one_loop_iteration_after_it_is_made(
    redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a light load a turn's script calls mostly go alone: each loop iteration between
    the call and its pipeline is a wait behind whatever else was ready (two iterations until
    the batch's task was started by a ``call_soon`` callback: issue 17's tail)."""
    incr = BatchedScript(redis_client, redis_client.register_script(INCR_LUA))
    stats = batcher(redis_client)
    sent: list[int] = []
    send = stats._send

    async def sending(batch: list[Call]) -> None:
        sent.append(len(batch))
        await send(batch)

    monkeypatch.setattr(stats, "_send", sending)
    key = _key()
    call = asyncio.create_task(incr(keys=[key], args=[1]))
    await asyncio.sleep(0)  # the caller runs: its call is queued
    assert sent == []
    await asyncio.sleep(0)  # the next iteration: the batch goes
    assert sent == [1]
    assert await call == 1
    await redis_client.delete(key)


async def test_each_caller_gets_its_own_error(redis_client: aioredis.Redis) -> None:
    check = BatchedScript(redis_client, redis_client.register_script(FAIL_LUA))
    results = await asyncio.gather(
        check(keys=[_key()], args=["a"]), check(keys=[_key()], args=["bad"]),
        check(keys=[_key()], args=["b"]), return_exceptions=True,
    )
    assert results[0] == b"a"
    assert results[2] == b"b"
    assert isinstance(results[1], ResponseError)
    assert "refused" in str(results[1])


async def test_a_flushed_script_cache_is_reloaded_for_every_caller(
    redis_client: aioredis.Redis,
) -> None:
    incr = BatchedScript(redis_client, redis_client.register_script(INCR_LUA))
    keys = [_key() for _ in range(5)]
    await incr(keys=[keys[0]], args=[0])  # loaded once
    await redis_client.script_flush()  # as after a Redis restart without persistence
    replies = await asyncio.gather(*(incr(keys=[k], args=[7]) for k in keys))
    assert replies == [7] * 5
    await redis_client.delete(*keys)


async def test_a_cancelled_caller_does_not_disturb_the_others(
    redis_client: aioredis.Redis,
) -> None:
    incr = BatchedScript(redis_client, redis_client.register_script(INCR_LUA))
    keys = [_key() for _ in range(3)]
    tasks = [asyncio.create_task(incr(keys=[k], args=[5])) for k in keys]
    await asyncio.sleep(0)  # queued, not yet sent
    tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert done[0] == 5
    assert done[2] == 5
    assert isinstance(done[1], asyncio.CancelledError)
    await redis_client.delete(*keys)


async def test_a_dead_server_fails_every_caller(tmp_path: Path) -> None:
    client = aioredis.Redis(unix_socket_path=f"{tmp_path}/nothing.sock")
    incr = BatchedScript(client, client.register_script(INCR_LUA))
    results = await asyncio.gather(*(incr(keys=[_key()], args=[1]) for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, RedisConnectionError) for r in results), results
    assert len({id(r) for r in results}) == 3
    await client.aclose()


@pytest.mark.parametrize("callers", [1, 3])
async def test_an_interrupted_batch_fails_its_callers_instead_of_hanging(
    redis_client: aioredis.Redis, callers: int,
) -> None:
    slow = BatchedScript(redis_client, redis_client.register_script(INCR_LUA))
    stats = batcher(redis_client)
    calls = [asyncio.create_task(slow(keys=[_key()], args=[1])) for _ in range(callers)]
    await asyncio.sleep(0)  # queued
    await asyncio.sleep(0)  # flushed: the batch's task exists
    for task in list(stats._flushing):
        task.cancel()  # as at shutdown
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
    assert all(isinstance(r, RedisConnectionError) for r in results), results


async def test_calls_left_queued_by_a_finished_loop_do_not_block_a_new_one(
    redis_client: aioredis.Redis,
) -> None:
    incr = BatchedScript(redis_client, redis_client.register_script(INCR_LUA))
    stats = batcher(redis_client)
    gone = asyncio.new_event_loop()
    stats._queue = [(incr._script, [], [], gone.create_future())]  # as if its loop ended
    stats._loop = gone
    key = _key()
    assert await asyncio.wait_for(incr(keys=[key], args=[3]), 5) == 3
    gone.close()
    await redis_client.delete(key)
