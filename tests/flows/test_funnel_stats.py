"""flows.funnel_stats as tables: exact counts in, a flow's figures out."""

from __future__ import annotations

from datetime import date

import pytest

from flows.funnel import Tally
from flows.funnel_stats import StepStats, flow_stats, median_bucket, period_days, span_days

STEPS = [("service", True), ("day", True), ("done", False)]
DAYS = ["2026-12-04", "2026-12-05"]
TALLIES = [
    Tally("started", "booking", "", "vk", 6),
    Tally("started", "booking", "", "web", 4),
    Tally("entered", "booking", "service", "vk", 6),
    Tally("entered", "booking", "service", "web", 4),
    Tally("answered", "booking", "service", "vk", 3, 0, "cut"),
    Tally("answered", "booking", "service", "vk", 2, 2, "color"),
    Tally("answered", "booking", "service", "web", 3, 1, "cut"),
    Tally("entered", "booking", "day", "vk", 5),
    Tally("entered", "booking", "day", "web", 3),
    Tally("retried", "booking", "day", "vk", 4),
    Tally("failed", "booking", "day", "vk", 1),
    Tally("answered", "booking", "day", "vk", 3, None, ""),
    Tally("answered", "booking", "day", "web", 2, 5, ""),
    Tally("entered", "booking", "done", "vk", 3),
    Tally("entered", "booking", "done", "web", 2),
    Tally("finished", "booking", "", "vk", 3),
    Tally("finished", "booking", "", "web", 2),
    Tally("entered", "booking", "gone", "vk", 1),  # a step the flow no longer has
    Tally("handed_off", "booking", "human", "web", 1),
    Tally("started", "other", "", "max", 9),  # another flow: never mixed in
]


def test_all_channels() -> None:
    stats = flow_stats(TALLIES, flow="booking", steps=STEPS, days=DAYS)
    assert (stats.started, stats.finished, stats.handed_off) == (10, 5, 1)
    assert stats.conversion == 0.5
    assert (stats.first, stats.last, stats.channels) == (*DAYS, ("vk", "web"))
    assert stats.steps == (
        StepStats("service", True, entered=10, answered=8, dropped=2, median=1,
                  choices=(("cut", 6), ("color", 2))),
        StepStats("day", True, entered=8, answered=5, dropped=2, retried=4, failed=1,
                  median=5),
        StepStats("done", False, entered=5),
        StepStats("gone", False, entered=1),
        StepStats("human", False, handed_off=1),
    )


@pytest.mark.parametrize(("channel", "started", "finished", "service_dropped"), [
    ("vk", 6, 3, 1), ("web", 4, 2, 1), ("max", 0, 0, 0)])
def test_one_channel(channel: str, started: int, finished: int, service_dropped: int) -> None:
    stats = flow_stats(TALLIES, flow="booking", steps=STEPS, days=DAYS, channel=channel)
    assert (stats.started, stats.finished, stats.steps[0].dropped) == (
        started, finished, service_dropped)
    assert stats.conversion == (finished / started if started else None)


@pytest.mark.parametrize(("buckets", "median"), [
    ({}, None), ({3: 1}, 3), ({0: 1, 5: 1}, 0), ({0: 1, 5: 2}, 5), ({1: 2, 2: 1, 8: 1}, 1)])
def test_median_bucket(buckets: dict[int, int], median: int | None) -> None:
    assert median_bucket(buckets) == median


def test_periods() -> None:
    assert period_days(date(2026, 12, 5), 1) == ["2026-12-05"]
    assert period_days(date(2026, 3, 1), 3) == ["2026-02-27", "2026-02-28", "2026-03-01"]
    assert span_days(date(2026, 12, 30), date(2027, 1, 1)) == [
        "2026-12-30", "2026-12-31", "2027-01-01"]
    assert span_days(date(2026, 12, 5), date(2026, 12, 4)) == []
    assert period_days(date(1, 1, 2), 7) == ["0001-01-01", "0001-01-02"]
