"""What a MAX connector knows of its own posts (``connectors.maxbot.readback.Landings``): a
re-send need not wait out the landing time of a post this process saw answered, or of one
that never went out because its mark in the outbox failed (a Redis stall); it must for a
post that went out unanswered, and for a key another process posted."""

from __future__ import annotations

import pytest

from connectors.maxbot.readback import Landings


async def _mark(key: str) -> None:
    return None


async def _stalled(key: str) -> None:
    raise TimeoutError("redis stalled")


async def test_an_answered_post_is_settled() -> None:
    landings = Landings()
    landings.starting("e1")
    await landings.posting("e1", _mark)()
    assert not landings.settled("e1")  # out, unanswered yet
    landings.answered("e1")
    assert landings.settled("e1")


async def test_a_post_whose_mark_failed_never_went_out() -> None:
    landings = Landings()
    landings.starting("e1")
    with pytest.raises(TimeoutError):
        await landings.posting("e1", _stalled)()
    assert landings.settled("e1")


async def test_an_unanswered_post_and_an_unknown_key_are_in_doubt() -> None:
    landings = Landings()
    landings.starting("e1")
    await landings.posting("e1", None)()
    assert not landings.settled("e1")
    assert not landings.settled("posted-by-a-dead-process")


def test_it_keeps_the_newest_keys_only() -> None:
    landings = Landings(kept=2)
    for key in ("a", "b", "c"):
        landings.starting(key)
    assert not landings.settled("a")  # forgotten: unknown again, so a re-send waits
    assert landings.settled("b")
    assert landings.settled("c")
