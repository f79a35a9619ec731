"""With no other channel to offer (only the web chat on), a choice leading straight to a
``link_channel`` step is not offered (issue 13 §5: never offer a channel the customer cannot
open). The runtime tells the flows through ``FlowSet.can_link``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows import loader
from flows.engine import advance
from flows.model import FlowSet
from flows.types import ButtonEvent, StartEvent, TextEvent

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CHANNEL = "Продолжить в другом мессенджере"


@pytest.fixture(scope="module")
def examples() -> FlowSet:
    return loader.load(EXAMPLES, timezone="Europe/Moscow")


def menu_labels(flows: FlowSet) -> list[str]:
    turn = advance(flows, None, StartEvent(), NOW)
    return [b.text for r in turn.replies for b in r.buttons]


def test_the_menu_offers_another_messenger_when_one_can_be_opened(examples: FlowSet) -> None:
    assert CHANNEL in menu_labels(examples)


def test_the_menu_leaves_it_out_when_none_can(examples: FlowSet) -> None:
    flows = replace(examples, can_link=False)
    labels = menu_labels(flows)
    assert CHANNEL not in labels
    assert labels == ["Записаться на приём", "Позвать администратора"]


@pytest.mark.parametrize("answer", [TextEvent("3"), TextEvent(CHANNEL), ButtonEvent("channel")])
def test_its_number_label_or_button_do_not_reach_the_link_step(
    examples: FlowSet, answer: TextEvent | ButtonEvent
) -> None:
    flows = replace(examples, can_link=False)
    state = advance(flows, None, StartEvent(), NOW).state
    turn = advance(flows, state, answer, NOW)
    assert not [e for e in turn.effects if type(e).__name__ == "LinkChannel"]
    assert turn.state.stack[-1].step == "menu"  # asked again, not sent to other_channel
    with_links = advance(examples, advance(examples, None, StartEvent(), NOW).state, answer, NOW)
    assert [e for e in with_links.effects if type(e).__name__ == "LinkChannel"]
