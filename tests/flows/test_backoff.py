"""flows/backoff.py: the one back-off formula every layer's retry loop uses."""

from __future__ import annotations

import pytest

from flows.backoff import Backoff, backoff_delay


@pytest.mark.parametrize("attempt", [0, 1, 4, 7])
def test_jittered_pause_is_in_the_upper_half_of_its_ceiling(attempt: int) -> None:
    ceiling = min(30.0, 0.5 * 2**attempt)
    for _ in range(50):
        assert ceiling / 2 <= backoff_delay(attempt) <= ceiling


def test_without_jitter_the_pause_doubles_up_to_the_cap() -> None:
    pauses = [backoff_delay(n, base=0.5, cap=3.0, jitter=False) for n in range(5)]
    assert pauses == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_loop_failing_for_days_keeps_its_capped_pause() -> None:
    """Regression: 0.5 * 2**1100 overflowed a float, so a polling loop that had failed about a
    thousand times in a row (17 hours at the 60 s cap) died of OverflowError."""
    assert 30.0 <= backoff_delay(5000, base=1.0, cap=60.0) <= 60.0
    assert backoff_delay(5000, base=1.0, cap=60.0, jitter=False) == 60.0


def test_backoff_counts_failures_and_reset_answers_how_many() -> None:
    backoff = Backoff(base=1.0, cap=4.0, jitter=False)
    assert [backoff.delay() for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert backoff.failures == 4
    assert backoff.reset() == 4
    assert backoff.failures == 0
    assert backoff.delay() == 1.0


def test_a_spread_sets_the_jitters_range_around_the_pause() -> None:
    """The customer lock's poll waits 0.5-1.5 times its doubling pause (``storage.locks``)."""
    found = [backoff_delay(2, base=0.002, cap=0.05, spread=(0.5, 1.5)) for _ in range(200)]
    assert all(0.004 <= pause <= 0.012 for pause in found)
    assert max(found) > 0.008  # above the pause itself, which the default jitter never is
    assert backoff_delay(9, base=0.002, cap=0.05, spread=(0.5, 1.5), jitter=False) == 0.05
