"""Issue 16: a template that fails at run time never reaches the customer silently. The
runtime logs it at ERROR with the file, line, flow and step, counts it, the customer hears a
neutral apology, and the dialogue stays where it was (before: «сценарий изменился… начнём
заново», nothing logged, no metric)."""

from __future__ import annotations

import logging

import pytest
from bots_harness import Harness

from flows.schema import Texts
from flows.types import TextEvent


async def test_a_failing_template_is_logged_counted_and_apologised_for(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="svyaz.bots"):
        await harness.send("web", "s1", TextEvent("сломай"))  # the first message: a trigger
    customer = await harness.customer("web", "s1")
    assert harness.texts("web", "s1")[-1] == Texts().failed
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert "broken.yaml:5 (flow 'broken', step 'start')" in message
    assert "ZeroDivisionError" in message
    assert getattr(errors[0], "customer", None) == customer
    assert harness.metrics.registry.get_sample_value("svyaz_turn_errors_total") == 1.0
    after, _ = await harness.store.states.load(customer)
    assert after is None or after.stack == ()  # where it was: nowhere yet, not in 'broken'
    assert await harness.store.inbox.pending(customer) == []  # the message is settled
