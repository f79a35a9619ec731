"""Prometheus metrics of one running bot, rendered at ``GET /metrics``.

This module owns the metric names and labels. Each ``Metrics`` has its own registry, so two
apps in one process (tests) never share counters. It must not decide anything: callers count.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from connectors.registry import INSTALLED

CONTENT_TYPE = CONTENT_TYPE_LATEST
_TURN_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_Metric = TypeVar("_Metric", Counter, Histogram)


class ByChannel(Generic[_Metric]):
    """A metric labelled by channel, each installed channel's child looked up once.

    prometheus_client's ``labels`` checks and converts its arguments and takes a lock on
    every call; a message made three such calls (~0.7 % of the bot's CPU, profile:
    ``MetricWrapperBase.labels``). The children kept are the installed channels' at most;
    another name is labelled as before, and not kept."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: _Metric) -> None:
        self._metric: _Metric = metric
        self._children: dict[str, _Metric] = {}

    def __call__(self, channel: str) -> _Metric:
        child = self._children.get(channel)
        if child is None:
            child = self._metric.labels(channel)
            if channel in INSTALLED:
                self._children[channel] = child
        return child


class Metrics:
    """Counters and histograms named ``svyaz_*``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages_in = Counter(
            "svyaz_messages_in", "Inbound events accepted", ["channel"], registry=r
        )
        self.messages_out = Counter(
            "svyaz_messages_out", "Replies delivered", ["channel"], registry=r
        )
        self.turn_seconds = Histogram(
            "svyaz_turn_seconds", "Time to process one inbound event", ["channel"],
            buckets=_TURN_BUCKETS, registry=r,
        )
        self.turn_errors = Counter(
            "svyaz_turn_errors", "Turns that ended in the catch-all", registry=r
        )
        self.reminders_scheduled = Counter(
            "svyaz_reminders_scheduled", "Reminders scheduled or replaced", registry=r
        )
        self.reminders_fired = Counter(
            "svyaz_reminders_fired", "Reminders that fell due and were claimed", registry=r
        )
        self.reminders_failed = Counter(
            "svyaz_reminders_failed", "Reminders no channel could deliver", registry=r
        )
        self.reminders_missed = Counter(
            "svyaz_reminders_missed", "Reminders found past the grace period", registry=r
        )
        self.delivery_failovers = Counter(
            "svyaz_delivery_failovers", "Deliveries moved to another channel", ["channel"],
            registry=r,
        )
        self.turns_in_progress = Gauge(
            "svyaz_turns_in_progress", "Customers being processed now", registry=r
        )
        self._per_channel()
        self._notices(r)
        self._funnel(r)

    def _per_channel(self) -> None:
        """The turn path's metrics by channel (``ByChannel``); messages in and out start at 0
        for every installed channel."""
        for channel in INSTALLED.names():
            self.messages_in.labels(channel)
            self.messages_out.labels(channel)
        self.received = ByChannel(self.messages_in)
        self.sent = ByChannel(self.messages_out)
        self.turn_time = ByChannel(self.turn_seconds)

    def _funnel(self, r: CollectorRegistry) -> None:
        """The funnel's (``bots.funnel``)."""
        self.funnel = Counter(
            "svyaz_funnel", "What turns did to flows (bots.funnel): kind is started, entered, "
            "answered, retried, failed, finished or handed_off; step is empty for a flow's "
            "start and finish. This process's since it started; exact daily counts: "
            "/api/v1/stats", ["flow", "step", "kind", "channel"], registry=r)

    def _notices(self, r: CollectorRegistry) -> None:
        """The escalation ladder's (``bots.ladder``)."""
        self.sms_sent = Counter("svyaz_sms_sent", "SMS accepted by the provider", registry=r)
        self.sms_doubt = Counter(
            "svyaz_sms_doubt", "SMS whose fate was unknown: not sent again, the next rung "
            "instead", registry=r)
        self.notices_climbed = Counter(
            "svyaz_notices_climbed", "Critical notices moved to their next rung", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
