"""The funnel's counting in the runtime: a turn's facts (``Turn.happened``) as the counts its
save adds (``storage.funnel``), on the business's calendar day, and as Prometheus counters
once saved.

``on`` turns the counting off and on, with the steps reached (``storage.reached``) each
customer's save keeps (the bench measures their cost by alternating). This
module must not write to Redis itself: the turn's save does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bots.metrics import Metrics
from flows.effects import zone
from flows.model import FlowSet
from flows.types import Happened
from storage.funnel import Counts, counts_of
from storage.reached import Reached

COUNTING = True  # ``FunnelCounts.on`` at start (bench/launch.py's ``--no-funnel`` clears it)


class FunnelCounts:
    """Counts for the turn's save; the metrics once it is saved."""

    def __init__(self, metrics: Metrics, flows: Callable[[], FlowSet],
                 clock: Callable[[], datetime]) -> None:
        self.on = COUNTING
        self._metrics = metrics
        self._flows = flows
        self._clock = clock
        # The metric's children by labels: ``labels()`` checks and locks on every call.
        self._children: dict[tuple[str, str, str, str], Any] = {}
        self._minute, self._today = -1, ""

    def counts(self, facts: Sequence[Happened], channel: str) -> Counts | None:
        """The counts of a turn's ``facts`` on ``channel`` (None: nothing to count)."""
        if not self.on or not facts:
            return None
        return counts_of(self._day(), facts, channel)

    def reached(self, facts: Sequence[Happened]) -> Reached | None:
        """The flows and steps a turn reached, for the customer's own set (segments and a
        broadcast's conversions read it; off with the counting, for the bench only)."""
        if not self.on or not facts:
            return None
        return Reached.of(facts, self._clock().timestamp())

    def _day(self) -> str:
        """The business's calendar day now, worked out once a minute (a time zone's offset
        changes on a whole minute; ``astimezone`` costs more than the counting)."""
        now = self._clock()
        minute = int(now.timestamp()) // 60
        if minute != self._minute:
            self._minute = minute
            self._today = now.astimezone(zone(self._flows().timezone)).date().isoformat()
        return self._today

    def saved(self, facts: Sequence[Happened], channel: str) -> None:
        """The turn was saved with its counts: the process's Prometheus counters follow."""
        if not self.on:
            return
        for fact in facts:
            key = (fact.flow, fact.step, fact.kind, channel)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self._metrics.funnel.labels(*key)
            child.inc()
