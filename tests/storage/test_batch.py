"""storage.batch: script calls of one loop iteration share a pipeline, each with its own fate."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from storage.batch import BatchedScript, Call, batcher, exchange
from storage.client import make_redis

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


async def test_a_batch_skips_redis_pys_pipeline_object(
    redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch and a lone call go as one write through ``storage.batch.exchange``; redis-py's
    pipeline (its per-command wrappers: a third of its CPU per batch) is not built."""
    incr = BatchedScript(redis_client, redis_client.register_script(INCR_LUA))
    await incr(keys=[_key()], args=[0])  # (the script is loaded)

    def no_pipeline(*_: object, **__: object) -> None:
        raise AssertionError("redis-py's pipeline was built")

    monkeypatch.setattr(redis_client, "pipeline", no_pipeline)
    keys = [_key() for _ in range(4)]
    assert await asyncio.gather(*(incr(keys=[k], args=[2]) for k in keys)) == [2] * 4
    assert await incr(keys=[keys[0]], args=[1]) == 3
    await redis_client.delete(*keys)


async def test_exchange_answers_as_redis_pys_pipeline_does(redis_client: aioredis.Redis) -> None:
    commands: list[tuple[object, ...]] = [
        ("EVALSHA", "0" * 40, 0), ("ECHO", "a"), ("EVAL", "return {1, 'x', {err = 'no'}}", 0),
        ("EVAL", FAIL_LUA, 0, "bad"), ("EVAL", "return nil", 0),
    ]
    pipe = redis_client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    expected = await pipe.execute(raise_on_error=False)
    got = await exchange(redis_client, commands)
    assert [(type(r), str(r) if isinstance(r, Exception) else repr(r)) for r in got] == [
        (type(r), str(r) if isinstance(r, Exception) else repr(r)) for r in expected]
    assert isinstance(got[0], NoScriptError)


async def test_a_batch_is_sent_again_when_its_connection_drops(
    redis_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """redis-py's retry policy still covers the batch: a write that fails on a dropped
    connection is sent again on a new one, and every caller gets its reply."""
    client = make_redis(redis_url)  # svyaz's retry policy
    try:
        incr = BatchedScript(client, client.register_script(INCR_LUA))
        keys = [_key() for _ in range(3)]
        await asyncio.gather(*(incr(keys=[k], args=[1]) for k in keys))
        connection_class = client.connection_pool.connection_class
        send = connection_class.send_packed_command
        failed: list[bool] = []

        async def drops_once(self: Any, *args: Any, **kwargs: Any) -> None:
            if not failed:
                failed.append(True)
                raise RedisConnectionError("dropped")
            await send(self, *args, **kwargs)

        monkeypatch.setattr(connection_class, "send_packed_command", drops_once)
        assert await asyncio.gather(*(incr(keys=[k], args=[1]) for k in keys)) == [2] * 3
        assert failed == [True]
        await client.delete(*keys)
    finally:
        await client.aclose()
