"""storage.deadline: ``asyncio.timeout``'s behaviour with one timer for all the calls."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from storage.deadline import deadlines, within


async def _slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


async def test_a_call_that_ends_in_time_gives_its_result() -> None:
    assert await within(1.0, _slow(0.01)) == "done"
    assert not deadlines()._calls  # (left: nothing kept)


async def test_a_call_past_its_deadline_raises_timeout_error() -> None:
    with pytest.raises(TimeoutError):  # (a deadline that never came: the test's timeout)
        await within(0.1, _slow(300))
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0  # the deadline's cancellation was taken back
    assert await within(0.1, _slow(0)) == "done"  # and the task goes on


async def test_many_calls_each_keep_their_own_deadline() -> None:
    results = await asyncio.gather(within(0.05, _slow(5)), within(2.0, _slow(0.2)),
                                   within(0.05, _slow(5)), return_exceptions=True)
    assert isinstance(results[0], TimeoutError)
    assert results[1] == "done"
    assert isinstance(results[2], TimeoutError)


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    task = asyncio.create_task(within(10.0, _slow(300)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_that_meets_the_deadline_stays_a_cancellation() -> None:
    """Both at once (as with ``asyncio.timeout``): the task was asked to stop by someone
    else too, so it stops rather than see a timeout it might handle and go on."""

    async def call() -> str:
        return await within(0.01, _slow(300))

    task = asyncio.create_task(call())
    await asyncio.sleep(0.02)  # its deadline has passed; the check (after TICK) has not run
    deadlines()._check()  # the check cancels it...
    task.cancel()  # ...and so does its owner, before it runs again
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_nested_calls_the_outer_deadline_is_the_outer_call_s() -> None:
    async def inner_then_more() -> str:
        assert await within(5.0, _slow(0.01)) == "done"
        return await within(5.0, _slow(300))  # the outer deadline passes in here

    with pytest.raises(TimeoutError):
        await within(0.1, inner_then_more())


async def test_a_call_that_swallows_the_deadline_s_cancellation_leaves_none_behind() -> None:
    """An awaitable that catches the cancellation and ends anyway (as some libraries do):
    its result comes back, and the task is not left marked as cancelling."""

    async def stubborn() -> str:
        try:
            await asyncio.sleep(300)
        except asyncio.CancelledError:
            return "swallowed"
        return "slept"

    assert await within(0.05, stubborn()) == "swallowed"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_deadline_inside_a_task_already_cancelling_is_still_a_timeout() -> None:
    """``asyncio.timeout`` compares with the count at its start; so does ``within``."""
    task = asyncio.current_task()
    assert task is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):  # the task handles a cancellation,
        await asyncio.sleep(0)  # still counted as cancelling
    assert task.cancelling() == 1
    with pytest.raises(TimeoutError):
        await within(0.05, _slow(300))
    assert task.cancelling() == 1
    task.uncancel()


def test_a_new_loop_gets_its_own_calls() -> None:
    async def check() -> object:
        assert await within(0.1, _slow(0)) == "done"
        return deadlines()

    first = asyncio.run(check())
    assert asyncio.run(check()) is not first


async def test_a_call_looks_its_task_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every storage call runs in ``within``: one task look-up each (there were two)."""
    looked: list[object] = []
    current_task = asyncio.current_task

    def counted(loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Task[object] | None:
        looked.append(loop)
        return current_task(loop)

    monkeypatch.setattr(asyncio, "current_task", counted)
    assert await within(1.0, _slow(0)) == "done"
    assert len(looked) == 1
