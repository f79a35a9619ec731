"""flows.steps: the step machine of one turn, seen through ``advance`` — what a step shows,
which effects it makes, where it goes, and the limits that keep a turn finite."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest

from flows import loader
from flows.engine import advance
from flows.model import FlowSet
from flows.types import (
    Button,
    CallHttp,
    CallResultEvent,
    CancelReminder,
    DialogState,
    Event,
    Frame,
    Handoff,
    LinkChannel,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
    Turn,
)

NOW = datetime(2026, 1, 12, 7, 5, tzinfo=UTC)  # 10:05 in Moscow

FLOWS = {
    "_bot.yaml": """
        menu: menu
        env: {SITE: "https://shop.example.ru"}
        """,
    "menu.yaml": """
        triggers: [{command: start}]
        steps:
          m:
            ask: Меню
            choice: [Один]
        """,
    "show.yaml": """
        vars: {name: Гость, count: 0}
        steps:
          hello:
            say: "{{ today }} {{ now }} {{ env.SITE }} {{ consent }} {{ name }}"
            image: "{{ env.SITE }}/{{ count }}.png"
            links:
              - {text: "Сайт {{ name }}", url: "{{ env.SITE }}/a"}
              - {text: Карта, url: "https://maps.example.ru"}
            markdown: true
            cancel_reminder: "visit-{{ name }}"
            link_channel: any
          pick:
            ask: "{{ name }}, что выберете?"
            consent: {policy: "{{ env.SITE }}/policy", version: v1, policy_text: Политика}
        """,
    "yn.yaml": """
        triggers: [{text: подтвердить}]
        steps:
          q:
            ask: Подтверждаете?
            input: yesno
            next: {yes: agreed, no: refused}
          agreed:
            say: Подтверждено
            end: true
          refused:
            say: Отказ
        """,
    "dyn.yaml": """
        steps:
          q:
            ask: Какой мастер?
            choice_from: masters
            save: master
          done:
            say: "Выбран {{ master }}"
        """,
    "calls.yaml": """
        steps:
          one:
            http: {url: "https://crm.example.ru/1", save: first}
          two:
            http: {url: "https://crm.example.ru/2"}
          done:
            say: "Готово {{ first.n }}"
        """,
    "same.yaml": """
        steps:
          one:
            http: {url: "https://crm.example.ru/1"}
        """,
    "outer.yaml": """
        steps:
          in:
            call: middle
          after:
            say: Снаружи
        """,
    "middle.yaml": """
        vars: {depth: 2}
        steps:
          go:
            call: inner
            end: true
        """,
    "inner.yaml": """
        steps:
          s:
            say: "Внутри {{ depth }}"
        """,
    "human.yaml": """
        steps:
          h:
            handoff: "{{ name }} просит оператора"
        """,
    "pic.yaml": """
        steps:
          p:
            image: "{{ env.SITE }}/map.png"
        """,
    "silent.yaml": """
        steps:
          h:
            handoff: true
        """,
}


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> FlowSet:
    return _load(tmp_path_factory.mktemp("flows"), FLOWS)


def _load(folder: Path, files: Mapping[str, str]) -> FlowSet:
    for name, text in files.items():
        (folder / name).write_text(dedent(text), encoding="utf-8")
    return loader.load(folder)


def start(flows: FlowSet, flow: str, state: DialogState | None = None, **vars_: object) -> Turn:
    return advance(flows, state, StartFlowEvent(flow, vars_), NOW)  # type: ignore[arg-type]


def said(flows: FlowSet, state: DialogState, *events: Event) -> Turn:
    turn = Turn(state=state)
    for event in events:
        turn = advance(flows, turn.state, event, NOW)
    return turn


def where(turn: Turn) -> list[str]:
    return [f"{f.flow}/{f.step}" for f in turn.state.stack]


# --------------------------------------------------------------------------- what a step shows


def test_a_message_step_renders_every_part_in_the_business_time_zone(flows: FlowSet) -> None:
    turn = start(flows, "show", state=DialogState(consent=True), count=3)
    hello, pick = turn.replies
    assert hello.text == "2026-01-12 2026-01-12T10:05 https://shop.example.ru True Гость"
    assert hello.image_url == "https://shop.example.ru/3.png"
    assert hello.markdown
    assert hello.buttons == (
        Button(id="link0", text="Сайт Гость", url="https://shop.example.ru/a"),
        Button(id="link1", text="Карта", url="https://maps.example.ru"),
    )
    assert turn.effects == (CancelReminder("visit-Гость"), LinkChannel(None))
    assert pick.text == "Гость, что выберете?"
    assert pick.buttons == (
        Button("yes", "Да"),
        Button("no", "Нет"),
        Button("policy", "Политика", "https://shop.example.ru/policy"),
    )
    assert not pick.request_phone


def test_a_picture_alone_has_no_text(flows: FlowSet) -> None:
    (reply,) = start(flows, "pic").replies
    assert (reply.text, reply.image_url) == ("", "https://shop.example.ru/map.png")
    assert not reply.markdown


def test_flow_defaults_never_overwrite_a_known_variable(flows: FlowSet) -> None:
    turn = start(flows, "show", name="Анна")
    assert turn.replies[0].text.endswith(" Анна")
    assert turn.state.vars == {"name": "Анна", "count": 0}


def test_a_yesno_question_has_yes_and_no_buttons_and_goes_by_the_answer(flows: FlowSet) -> None:
    asked = start(flows, "yn")
    assert asked.replies[0].buttons == (Button("yes", "Да"), Button("no", "Нет"))
    assert [r.text for r in said(flows, asked.state, TextEvent("да")).replies] == ["Подтверждено"]
    assert [r.text for r in said(flows, asked.state, TextEvent("нет")).replies] == ["Отказ"]


# --------------------------------------------------------------------------- options from data


def test_options_from_a_variable_read_ids_and_texts(flows: FlowSet) -> None:
    masters = [
        {"id": "ivan", "text": "Иван"},
        {"text": "Ольга"},
        {"id": "x" * 70},
        "Пётр",
        None,
        "",
        7,
    ]
    turn = start(flows, "dyn", masters=masters)
    assert turn.replies[0].buttons == (
        Button("ivan", "Иван"),
        Button("Ольга", "Ольга"),
        Button("x" * 64, "x" * 70),
        Button("Пётр", "Пётр"),
        Button("7", "7"),
    )
    chosen = said(flows, turn.state, TextEvent("Иван"))
    assert [r.text for r in chosen.replies] == ["Выбран ivan"]


def test_options_from_data_are_at_most_30(flows: FlowSet) -> None:
    turn = start(flows, "dyn", masters=[f"m{i}" for i in range(40)])
    assert [b.id for b in turn.replies[0].buttons] == [f"m{i}" for i in range(30)]


@pytest.mark.parametrize("masters", [None, "Иван", {"id": "ivan"}, []])
def test_options_from_anything_but_a_list_are_none(flows: FlowSet, masters: object) -> None:
    """Nothing to choose from is never a question no answer fits (issue 16): without
    ``when_empty`` the customer hears so and gets the menu."""
    turn = start(flows, "dyn", masters=masters)
    assert turn.replies[0].text == flows.texts.nothing_to_choose
    assert "dyn/q" not in where(turn)


# --------------------------------------------------------------------------- calls and results


def test_each_call_gets_its_own_id(flows: FlowSet) -> None:
    first = start(flows, "calls")
    (call_one,) = first.effects
    assert isinstance(call_one, CallHttp)
    second = said(flows, first.state, CallResultEvent(call_one.call_id, True, 200, {"n": 5}))
    (call_two,) = second.effects
    assert isinstance(call_two, CallHttp)
    assert call_two.url == "https://crm.example.ru/2"
    # a repeated answer to the first call is stale for the second
    assert call_two.call_id != call_one.call_id
    late = said(flows, second.state, CallResultEvent(call_one.call_id, True, 200, {"n": 6}))
    assert late.replies == ()
    assert late.state == second.state
    # the same step name in another flow, and the same step with other variables
    other_flow = start(flows, "same").state.waiting
    other_vars = start(flows, "calls", n=1).state.waiting
    assert len({call_one.call_id, other_flow, other_vars}) == 3
    done = said(flows, second.state, CallResultEvent(call_two.call_id, True, 200, None))
    assert [r.text for r in done.replies] == ["Готово 5"]
    assert done.state.waiting is None
    assert done.state.stack == ()


def test_the_same_call_deeper_in_the_stack_gets_another_id(flows: FlowSet) -> None:
    alone = start(flows, "same")
    interrupted = start(flows, "same", state=DialogState(stack=(Frame(f="menu", s="m"),)))
    assert where(interrupted) == ["menu/m", "same/one"]
    assert alone.state.waiting != interrupted.state.waiting


def test_a_failed_call_without_on_error_apologises_and_ends(flows: FlowSet) -> None:
    first = start(flows, "calls")
    failed = said(flows, first.state, CallResultEvent(first.state.waiting or "", False, 500))
    assert [r.text for r in failed.replies] == [flows.texts.call_failed]
    assert failed.effects == ()
    assert failed.state == DialogState()


def test_cancel_while_waiting_forgets_the_call(flows: FlowSet) -> None:
    first = start(flows, "calls")
    cancelled = said(flows, first.state, TextEvent("отмена"))
    assert [r.text for r in cancelled.replies] == [flows.texts.cancelled, "Меню"]
    asked = int(NOW.timestamp())  # the menu's question, asked now (the funnel's time)
    assert cancelled.state == DialogState(stack=(Frame(f="menu", s="m", t=asked),))


# --------------------------------------------------------------------------- sub-flows


def test_returning_through_a_finished_middle_flow_resumes_the_outer_one(flows: FlowSet) -> None:
    turn = start(flows, "outer")
    assert [r.text for r in turn.replies] == ["Внутри 2", "Снаружи"]
    assert turn.state.stack == ()
    assert turn.state.vars == {"depth": 2}


def test_a_called_flow_defaults_never_overwrite_a_known_variable(flows: FlowSet) -> None:
    turn = start(flows, "outer", depth=9)
    assert [r.text for r in turn.replies] == ["Внутри 9", "Снаружи"]


def test_a_trigger_from_inside_a_question_replaces_the_stack(flows: FlowSet) -> None:
    state = DialogState(stack=(Frame(f="menu", s="m"), Frame(f="show", s="pick")))
    turn = said(flows, state, TextEvent("подтвердить"))
    assert where(turn) == ["yn/q"]


# --------------------------------------------------------------------------- hand-off


def test_a_hand_off_renders_its_reason_and_stops(flows: FlowSet) -> None:
    turn = start(flows, "human", name="Анна")
    assert turn.effects == (Handoff("Анна просит оператора"),)
    assert turn.state == DialogState(vars={"name": "Анна"}, handoff=True)
    assert start(flows, "silent").effects == (Handoff(""),)


# --------------------------------------------------------------------------- limits


def _chain(steps: int) -> dict[str, str]:
    body = "".join(f"  s{i}: {{say: '{i}'}}\n" for i in range(steps))
    return {
        "menu.yaml": "triggers: [{command: start}]\nsteps:\n  m: {ask: Меню}\n",
        "chain.yaml": "steps:\n" + body,
    }


def test_a_turn_runs_60_steps_without_a_question(tmp_path: Path) -> None:
    flows = _load(tmp_path, _chain(60))
    turn = start(flows, "chain")
    assert [r.text for r in turn.replies] == [str(i) for i in range(60)]


def test_the_61st_step_without_a_question_is_a_loop(tmp_path: Path) -> None:
    flows = _load(tmp_path, _chain(61))
    turn = start(flows, "chain")
    assert [r.text for r in turn.replies] == [flows.texts.lost, "Меню"]


def test_interruptions_nest_six_deep_and_drop_the_oldest(flows: FlowSet) -> None:
    five = (Frame(f="menu", s="m"),) + tuple(Frame(f="yn", s="q") for _ in range(4))
    six = advance(flows, DialogState(stack=five), TimerEvent("menu", "k"), NOW)
    assert where(six) == ["menu/m", "yn/q", "yn/q", "yn/q", "yn/q", "menu/m"]
    seven = advance(flows, six.state, TimerEvent("yn", "k"), NOW)
    assert where(seven) == ["yn/q", "yn/q", "yn/q", "yn/q", "menu/m", "yn/q"]
