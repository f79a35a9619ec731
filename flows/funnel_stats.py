"""The funnel's figures of one flow, computed from exact counts (``flows.funnel.Tally``).

``flow_stats`` is pure: the counts of a period (the days ``period_days`` names), the flow's
steps in order, and optionally one channel in; starts, completions, conversion, and per step:
entered, answered, dropped (entered a question and never went past it: not answered, not
given up to ``on_fail`` — a customer still at the step counts as dropped until they answer),
retries, give-ups, hand-offs, the options chosen, and the median time to answer.

The median is estimated: times are counted in the buckets of ``flows.funnel.BUCKETS``, so the
median is the bucket holding the middle answer ("up to 1 min"), never a made-up second.
Every other figure is an exact count of events (a customer who enters a step twice counts
twice). A flow started on one channel and finished on another counts its start on the first
and its finish on the second.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from flows.funnel import BUCKETS, Tally


@dataclass(frozen=True, slots=True)
class StepStats:
    """One step's figures; ``median`` is a ``BUCKETS`` index (None: no timed answer)."""

    step: str
    question: bool
    entered: int = 0
    answered: int = 0
    dropped: int = 0
    retried: int = 0
    failed: int = 0
    handed_off: int = 0
    median: int | None = None
    choices: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class FlowStats:
    """A flow's figures over ``days`` (first and last day), on ``channel`` (None: all)."""

    flow: str
    first: str
    last: str
    channel: str | None
    started: int
    finished: int
    handed_off: int
    steps: tuple[StepStats, ...]
    channels: tuple[str, ...]  # every channel with counts of this flow in the period

    @property
    def conversion(self) -> float | None:
        """Completions per start (None: no start)."""
        return self.finished / self.started if self.started else None


def period_days(last: date, days: int) -> list[str]:
    """The ``days`` calendar days ending with ``last``, oldest first, as ``YYYY-MM-DD``
    (none before the calendar's first day)."""
    end = last.toordinal()
    return [date.fromordinal(end - n).isoformat()
            for n in range(max(1, days) - 1, -1, -1) if end - n >= 1]


def span_days(first: date, last: date) -> list[str]:
    """Every day from ``first`` to ``last`` inclusive (a custom period)."""
    return period_days(last, (last - first).days + 1) if last >= first else []


def flow_stats(
    tallies: Iterable[Tally], *, flow: str, steps: Sequence[tuple[str, bool]],
    days: Sequence[str], channel: str | None = None,
) -> FlowStats:
    """The figures of ``flow`` (``steps``: its (name, asks a question) in order)."""
    mine = [t for t in tallies if t.flow == flow]
    channels = tuple(sorted({t.channel for t in mine}))
    kept = [t for t in mine if channel is None or t.channel == channel]
    total: Counter[tuple[str, str]] = Counter()
    for t in kept:
        total[t.kind, t.step] += t.count
    order = list(steps) + [(name, False) for name in _unknown(kept, steps)]
    return FlowStats(
        flow=flow, first=days[0] if days else "", last=days[-1] if days else "",
        channel=channel, started=total["started", ""], finished=total["finished", ""],
        handed_off=sum(n for (kind, _), n in total.items() if kind == "handed_off"),
        steps=tuple(_step(name, question, total, kept) for name, question in order),
        channels=channels,
    )


def _unknown(kept: Sequence[Tally], steps: Sequence[tuple[str, bool]]) -> list[str]:
    """Steps counted that the flow no longer has (renamed or removed), by name."""
    known = {name for name, _ in steps}
    return sorted({t.step for t in kept if t.step and t.step not in known})


def _step(name: str, question: bool, total: Counter[tuple[str, str]],
          kept: Sequence[Tally]) -> StepStats:
    answers = [t for t in kept if t.kind == "answered" and t.step == name]
    question = question or bool(answers)
    entered, answered = total["entered", name], total["answered", name]
    failed = total["failed", name]
    choices: Counter[str] = Counter()
    buckets: defaultdict[int, int] = defaultdict(int)
    for t in answers:
        if t.choice:
            choices[t.choice] += t.count
        if t.bucket is not None:
            buckets[t.bucket] += t.count
    return StepStats(
        step=name, question=question, entered=entered, answered=answered,
        dropped=max(0, entered - answered - failed) if question else 0,
        retried=total["retried", name], failed=failed, handed_off=total["handed_off", name],
        median=median_bucket(buckets), choices=tuple(choices.most_common()),
    )


def median_bucket(buckets: dict[int, int]) -> int | None:
    """The bucket holding the middle of the counted times (the lower middle of an even
    count); None when nothing was timed."""
    count = sum(buckets.values())
    if not count:
        return None
    seen = 0
    for index in range(len(BUCKETS) + 1):
        seen += buckets.get(index, 0)
        if 2 * seen >= count:
            return index
    return len(BUCKETS)  # (not reached: every index is below len(BUCKETS) + 1)
