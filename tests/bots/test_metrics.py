"""bots.metrics: the per-channel children kept for the turn path."""

from __future__ import annotations

from bots.metrics import Metrics


def test_a_channel_s_child_is_the_labelled_one_and_kept_for_installed_channels() -> None:
    metrics = Metrics()
    assert metrics.received("max") is metrics.messages_in.labels("max")
    assert metrics.sent("vk") is metrics.messages_out.labels("vk")
    assert metrics.turn_time("web") is metrics.turn_seconds.labels("web")
    metrics.received("max").inc()
    metrics.turn_time("max").observe(0.01)
    assert metrics.messages_in.labels("max")._value.get() == 1
    assert set(metrics.received._children) == {"max"}
    metrics.received("nope").inc()  # not a channel: counted, not kept (the dict stays bounded)
    assert "nope" not in metrics.received._children
    assert metrics.messages_in.labels("nope")._value.get() == 1
