"""Scripts called in the same event-loop iteration reach Redis as one pipeline.

Under load many customers' turns are at the same point at once: a burst of webhooks each
runs the accept script, several turns save at once. Sent one by one, each call pays redis-py's
whole path (a pool connection, retry and observability wrappers, one socket write, one wake-up
of Redis and of this process). ``BatchedScript`` queues the call instead; the first call of an
iteration starts the batch's task, whose first step (in the next iteration, after every
callback already ready) sends every call queued by then as one write of ``EVALSHA`` commands
(``exchange``: one pooled connection and redis-py's retry policy, without its pipeline object
and per-command wrappers; a lone call goes the same way). Nothing waits for a timer, so a call
waits one loop iteration before it is sent. (Until 2026-12-05 a ``loop.call_soon`` callback
made the task: two iterations, and under a light load each one of a turn's script calls waited
behind whatever else was ready, twice: ``bench/README.md``, issue 17's tail.)

Each caller gets its own reply or exception: a ``NOSCRIPT`` (Redis restarted or flushed its
script cache) re-runs that call through ``AsyncScript``, which loads the script. A caller that
was cancelled meanwhile (its deadline passed) is skipped; its script may still have run, exactly
as for a call sent alone. Outside a Redis Cluster only (``storage.client.scripts_span_slots``):
a cluster pipeline would split the batch by node anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class Batcher:
    """The queue of one Redis client's script calls for the current loop iteration."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._queue: list[Call] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self.batches = 0  # pipelines sent (a lone call is not counted)
        self.batched = 0  # calls that went in them

    def call(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> (
            asyncio.Future[Any]):
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue or self._loop is not loop:
            # (calls queued on a loop that has gone away can never be sent: dropped)
            self._queue, self._loop = [], loop
            batch = self._queue
            # The task's first step runs in the next iteration, after every callback already
            # ready: the calls they make join ``batch`` until then.
            task = loop.create_task(self._flush(batch))
            self._flushing.add(task)  # keep a reference until it is done
            task.add_done_callback(self._flushing.discard)
            task.add_done_callback(lambda _: self._ended(batch))
        self._queue.append((script, keys, args, future))
        return future

    async def _flush(self, batch: list[Call]) -> None:
        if self._queue is batch:  # later calls start the next batch
            self._queue = []
        await self._send(batch)

    def _ended(self, batch: list[Call]) -> None:
        """The batch's task ended (cancelled at shutdown, even before it started): nobody may
        wait forever for a reply that will not come."""
        if self._queue is batch:  # (cancelled before it started: closed to new calls)
            self._queue = []
        _fail_unsettled(batch)

    async def _send(self, batch: list[Call]) -> None:
        live = [call for call in batch if not call[3].done()]
        if len(live) > 1:
            self.batches += 1
            self.batched += len(live)
        if live:
            await self._pipeline(live)

    async def _pipeline(self, live: list[Call]) -> None:
        commands = [("EVALSHA", script.sha, len(keys), *keys, *args)
                    for script, keys, args, _ in live]
        try:
            replies = await exchange(self._redis, commands)
        except BaseException as exc:  # the connection failed after redis-py's retries
            for *_, future in live:
                if not future.done():
                    future.set_exception(_copy(exc))
            if not isinstance(exc, Exception):
                raise
            return
        for (script, keys, args, future), reply in zip(live, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, NoScriptError):
                await _settle(future, script, keys, args)  # loads the script, then runs it
            elif isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)


async def exchange(redis: Redis, commands: list[tuple[Any, ...]]) -> list[Any]:
    """``commands`` in one write on one pooled connection, and their replies: each reply, or
    the ``ResponseError`` Redis answered instead. What redis-py's ``pipeline(transaction=False)
    .execute(raise_on_error=False)`` returns for commands without a response callback (as
    ``EVALSHA``), with its retry policy (the connection's ``Retry``: a dropped connection is
    closed and the whole write sent again) but without its per-command wrappers (observability,
    ``HIMPORT`` checks, the pipeline object): about a third of redis-py's CPU per batch."""
    pool = redis.connection_pool
    conn = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        return await conn.retry.call_with_retry(  # type: ignore[no-any-return]
            lambda: _write_and_read(conn, commands), lambda error: conn.disconnect(error=error))
    finally:
        await pool.release(conn)


async def _write_and_read(conn: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
    await conn.send_packed_command(conn.pack_commands(commands))
    replies: list[Any] = []
    try:
        for _ in commands:
            try:
                replies.append(await conn.read_response())
            except ResponseError as exc:
                replies.append(exc)
    except BaseException:  # cancelled or failed halfway: the rest of the replies are unread
        await conn.disconnect(nowait=True)
        raise
    return replies


def _fail_unsettled(batch: list[Call]) -> None:
    for *_, future in batch:
        if not future.done():
            future.set_exception(RedisConnectionError("the batch was interrupted"))


async def _settle(future: asyncio.Future[Any], script: AsyncScript, keys: Sequence[Any],
                  args: Sequence[Any]) -> None:
    try:
        reply = await script(keys=keys, args=args)
    except Exception as exc:
        if not future.done():
            future.set_exception(exc)
        return
    if not future.done():
        future.set_result(reply)


def _copy(exc: BaseException) -> BaseException:
    """Each waiting caller raises its own exception object (tracebacks are per raise)."""
    if isinstance(exc, asyncio.CancelledError):  # the batch's task, not the caller's
        return RedisConnectionError("the batch was interrupted")
    try:
        clone = type(exc)(*exc.args)
    except Exception:
        return exc
    clone.__cause__ = exc
    return clone


_BATCHERS: WeakKeyDictionary[Redis, Batcher] = WeakKeyDictionary()


def batcher(redis: Redis) -> Batcher:
    found = _BATCHERS.get(redis)
    if found is None:
        found = _BATCHERS[redis] = Batcher(redis)
    return found


class BatchedScript:
    """An ``AsyncScript`` whose calls join the client's batch: ``await s(keys=..., args=...)``."""

    def __init__(self, redis: Redis, script: AsyncScript) -> None:
        self._script = script
        self._batcher = batcher(redis)
        self.sha = script.sha

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        return await self._batcher.call(self._script, keys, args)
