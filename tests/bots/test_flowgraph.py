"""bots/flowgraph.py (``svyaz graph``): only reachable paths, every edge labelled, trigger
entries and where the customer leaves the bot (issue 16)."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest

from bots.flowgraph import dot, mermaid
from flows import loader
from flows.model import CompiledFlow

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"
FLOW = """
    flow: f
    expects: [x]
    triggers:
      - text: [привет]
      - button: go
        step: b
    steps:
      a:
        ask: Да?
        input: yesno
        next: {yes: b, no: c}
      b:
        next:
          - if: x > 1
            then: c
          - else: d
          - if: never
            then: lost
      c:
        say: Зову человека
        handoff: просили
      d:
        call: g
        end: true
      lost:
        say: никогда
    """


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> CompiledFlow:
    folder = tmp_path_factory.mktemp("graph")
    (folder / "f.yaml").write_text(dedent(FLOW), encoding="utf-8")
    (folder / "g.yaml").write_text("steps:\n  g:\n    say: g\n", encoding="utf-8")
    flows, _ = loader.check(folder)
    assert flows is not None
    return flows.flows["f"]


def test_only_steps_a_conversation_can_reach(flow: CompiledFlow) -> None:
    text = mermaid(flow)
    assert "lost" not in text  # after an 'else' and reached by nothing else
    assert "никогда" not in dot(flow)
    assert "-->|answer|" not in text  # both answers of 'a' are mapped: no fall-through


def test_every_edge_is_labelled(flow: CompiledFlow) -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name.startswith("_") or path.name.endswith(".test.yaml"):
            continue
        example = loader.load(EXAMPLES).flows[path.stem]
        for line in [*mermaid(example).splitlines(), *mermaid(flow).splitlines()]:
            assert not re.search(r"-\.?->(?!\|)", line), line
        assert all("label=" in line for line in dot(example).splitlines() if "->" in line)


def test_entries_hand_offs_and_calls_are_drawn(flow: CompiledFlow) -> None:
    text = mermaid(flow)
    assert "start((text: привет)) -->|start| s0" in text
    assert "start1((button: go)) -->|enter| s1" in text
    assert "-->|hand-off| operator[/operator/]" in text
    assert "-.->|call| flow_0[/flow g/]" in text
    assert '"__start1" [shape=circle, label="button: go"];' in dot(flow)
    assert 'label="text: привет"' in dot(flow)  # UTF-8, not \\u escapes Graphviz cannot read
