"""What happened in a turn, as data: the funnel's raw facts.

The engine (``flows.steps``, ``flows.answers``) appends one ``Happened`` (``flows.types``)
for each thing a turn did to a flow: a flow started, a step entered, a question answered
(with the chosen option's id at a choice or yes/no step, and the seconds since the step was
asked), a wrong answer retried, a step given up after its ``max_tries``, a flow finished, a
hand-off. ``advance`` returns them in ``Turn.happened``; storage counts them and
``flows.funnel_stats`` reads the counts back. Pure data and arithmetic: no clock, no I/O.

Time on a step is counted into the fixed buckets of ``BUCKETS`` (upper bounds in seconds), so
a median can be estimated from exact counts without keeping any duration of any customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.types import HAPPENED_KINDS, Happened, HappenedKind

__all__ = ["BUCKETS", "HAPPENED_KINDS", "Happened", "HappenedKind", "Tally", "bucket_of"]

# Upper bounds (seconds) of the time-on-step buckets; one more bucket holds anything longer.
BUCKETS: tuple[int, ...] = (10, 30, 60, 120, 300, 900, 3600, 86_400)


def bucket_of(seconds: int | None) -> int | None:
    """The index of the ``BUCKETS`` bucket ``seconds`` falls in (``len(BUCKETS)``: longer)."""
    if seconds is None:
        return None
    for index, bound in enumerate(BUCKETS):
        if seconds <= bound:
            return index
    return len(BUCKETS)


@dataclass(frozen=True, slots=True)
class Tally:
    """An exact count read back: ``count`` facts of ``kind`` at ``flow``/``step`` on
    ``channel`` (an answer's ``bucket``, None when unknown, and ``choice``, "" for none)."""

    kind: HappenedKind
    flow: str
    step: str
    channel: str
    count: int
    bucket: int | None = None
    choice: str = ""
