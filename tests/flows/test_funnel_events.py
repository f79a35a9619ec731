"""flows.engine.advance's funnel facts (``Turn.happened``) as tables: events in, facts out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from flows import loader
from flows.engine import advance
from flows.funnel import BUCKETS, bucket_of
from flows.model import FlowSet
from flows.types import (
    ButtonEvent,
    DialogState,
    Event,
    Happened,
    StartFlowEvent,
    TextEvent,
)

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 1, 12, 10, 0, tzinfo=MSK)

FLOWS = {
    "book.yaml": """
        flow: book
        steps:
          service:
            ask: Какая услуга?
            choice: {cut: Стрижка, color: Окрашивание}
          count:
            ask: Сколько человек?
            input: number
            max: 5
            retry: Не больше пяти.
            max_tries: 2
            on_fail: human
          more:
            call: extra
          sure:
            ask: Всё верно?
            input: yesno
            next: {yes: done, no: service}
          done:
            say: Записали.
            end: true
          human:
            handoff: Клиент запутался
    """,
    "pick.yaml": """
        flow: pick
        steps:
          prep:
            set:
              items: []
          choose:
            ask: Выберите
            choice_from: items
            when_empty: none
          none:
            say: Выбирать не из чего.
    """,
    "extra.yaml": """
        flow: extra
        steps:
          note:
            ask: Пожелания?
    """,
}


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> FlowSet:
    folder: Path = tmp_path_factory.mktemp("funnel_flows")
    for name, text in FLOWS.items():
        (folder / name).write_text(dedent(text), encoding="utf-8")
    return loader.load(folder)


def play(flows: FlowSet, events: Sequence[tuple[int, Event]]) -> list[tuple[Happened, ...]]:
    """Each event at NOW + its seconds; the facts of each turn."""
    state: DialogState | None = None
    facts = []
    for seconds, event in events:
        turn = advance(flows, state, event, NOW + timedelta(seconds=seconds))
        state = turn.state
        facts.append(turn.happened)
    return facts


def H(kind: str, flow: str, step: str = "", choice: str | None = None,  # noqa: N802
      seconds: int | None = None) -> Happened:
    return Happened(kind, flow, step, choice, seconds)  # type: ignore[arg-type]


START = StartFlowEvent("book")
CUT = (1, TextEvent("стрижка"))
BEGUN = (H("started", "book"), H("entered", "book", "service"))

CASES = [
    pytest.param([(0, START)], [BEGUN], id="start enters the first step"),
    pytest.param(
        [(0, START), (7, ButtonEvent("color", "Окрашивание"))],
        [BEGUN, (H("answered", "book", "service", "color", 7), H("entered", "book", "count"))],
        id="a choice answered by its button, with the seconds it waited",
    ),
    pytest.param(
        [(0, START), CUT, (9, TextEvent("9")), (70, TextEvent("2"))],
        [BEGUN, (H("answered", "book", "service", "cut", 1), H("entered", "book", "count")),
         (H("retried", "book", "count"),),
         (H("answered", "book", "count", None, 69), H("entered", "book", "more"),
          H("started", "extra"), H("entered", "extra", "note"))],
        id="a retry keeps the time the step was asked; a call starts a sub-flow",
    ),
    pytest.param(
        [(0, START), CUT, (2, TextEvent("9")), (3, TextEvent("8"))],
        [BEGUN, (H("answered", "book", "service", "cut", 1), H("entered", "book", "count")),
         (H("retried", "book", "count"),),
         (H("failed", "book", "count"), H("entered", "book", "human"),
          H("handed_off", "book", "human"))],
        id="max_tries gives up to on_fail, here a hand-off",
    ),
    pytest.param(
        [(0, START), CUT, (2, TextEvent("2")), (3, TextEvent("нет")), (4, ButtonEvent("yes"))],
        [BEGUN, (H("answered", "book", "service", "cut", 1), H("entered", "book", "count")),
         (H("answered", "book", "count", None, 1), H("entered", "book", "more"),
          H("started", "extra"), H("entered", "extra", "note")),
         (H("answered", "extra", "note", None, 1), H("finished", "extra"),
          H("entered", "book", "sure")),
         (H("answered", "book", "sure", "yes", 1), H("entered", "book", "done"),
          H("finished", "book"))],
        id="a sub-flow finishes and the caller goes on; yes/no; the flow finishes",
    ),
    pytest.param(
        [(0, START), (5, TextEvent("отмена"))],
        [BEGUN, BEGUN],
        id="a cancel abandons the step: no answer, no finish (the menu starts afresh)",
    ),
]


@pytest.mark.parametrize(("events", "expected"), CASES)
def test_facts_of_each_turn(flows: FlowSet, events: list[tuple[int, Event]],
                            expected: list[tuple[Happened, ...]]) -> None:
    assert play(flows, events) == expected


def test_a_list_with_nothing_to_offer_is_not_entered(flows: FlowSet) -> None:
    """``when_empty``: the question was never asked, so nobody could leave it."""
    turn = advance(flows, None, StartFlowEvent("pick"), NOW)
    assert turn.happened == (H("started", "pick"), H("entered", "pick", "prep"),
                             H("entered", "pick", "none"), H("finished", "pick"))


def test_a_state_from_before_asked_times_counts_no_seconds(flows: FlowSet) -> None:
    """A stored state without the asked time (older svyaz): the answer counts, no time."""
    begun = advance(flows, None, START, NOW).state
    old = begun.model_copy(update={"stack": tuple(f.model_copy(update={"asked": 0})
                                                   for f in begun.stack)})
    turn = advance(flows, old, ButtonEvent("cut"), NOW + timedelta(seconds=30))
    assert turn.happened[0] == H("answered", "book", "service", "cut", None)


def test_buckets() -> None:
    assert [bucket_of(s) for s in (None, 0, 10, 11, 86_400, 86_401)] == [
        None, 0, 0, 1, len(BUCKETS) - 1, len(BUCKETS)]
