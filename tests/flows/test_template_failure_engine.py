"""Issue 16: a template that fails at run time in the middle of a dialogue is never silent:
the turn names the file, line, flow and step (for the runtime's ERROR log and metric), the
customer hears the neutral apology, and the dialogue stays at the question it was at."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flows import engine, loader
from flows.types import TextEvent

FLOW = """\
flow: calc
triggers: [{text: [делить]}]
steps:
  n:
    ask: На сколько делить?
    input: number
    save: n
  show:
    say: "Получится {{ 10 / n }}"
    end: true
"""
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def test_a_failing_template_keeps_the_dialogue_at_its_question(tmp_path: Path) -> None:
    (tmp_path / "calc.yaml").write_text(FLOW, encoding="utf-8")
    flows = loader.load(tmp_path)
    asked = engine.advance(flows, None, TextEvent("делить"), NOW)
    assert [r.text for r in asked.replies] == ["На сколько делить?"]

    failed = engine.advance(flows, asked.state, TextEvent("0"), NOW)
    assert [r.text for r in failed.replies] == [flows.texts.failed]
    assert failed.failure is not None
    assert "calc.yaml:8 (flow 'calc', step 'show')" in failed.failure
    assert failed.state == asked.state  # still at the question, nothing saved
    assert failed.state.stack[-1].step == "n"

    again = engine.advance(flows, failed.state, TextEvent("2"), NOW)  # the customer tries again
    assert [r.text for r in again.replies] == ["Получится 5.0"]
