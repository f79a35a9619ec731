"""flows.engine.advance as tables: (state, event) -> (replies, effects, position)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from flows import loader
from flows.engine import advance, give_up
from flows.model import FlowSet
from flows.types import (
    ButtonEvent,
    CallHttp,
    CallResultEvent,
    CancelReminder,
    ContactEvent,
    DialogState,
    Event,
    Frame,
    Handoff,
    HandoffUnheardEvent,
    LinkChannel,
    PermissionEvent,
    RecordConsent,
    ReminderPassed,
    ResumeEvent,
    SaveProfile,
    ScheduleReminder,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
    Turn,
)

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 1, 12, 10, 0, tzinfo=MSK)  # Monday

FLOWS = {
    "menu.yaml": """
        flow: menu
        triggers:
          - command: start
            step: hello
        start: main
        steps:
          hello:
            say: Привет!
          main:
            ask: Что делаем?
            choice: {calc: Считать, sub: Подпрограмма, human: Человек}
            next: {calc: go_calc, sub: go_sub, human: human}
          go_calc:
            call: calc
            end: true
          go_sub:
            call: sub
            next: after_sub
          after_sub:
            say: "Вернулись, x={{ x }}"
            end: true
          human:
            say: Зову человека
            handoff: просили
        """,
    "calc.yaml": """
        flow: calc
        triggers:
          - text: [посчитать, счёт]
          - payload: calc
        steps:
          n:
            ask: Сколько гостей?
            input: number
            min: 1
            max: 10
            max_tries: 2
            on_fail: give_up
            save: guests
            next:
              - if: value > 5
                then: big
              - else: small
          big:
            set: {size: большая}
            say: "Большая компания: {{ guests }}"
            end: true
          small:
            set: {size: "{{ 'малая' }}", twice: "{{ guests * 2 }}"}
            say: Малая компания
            end: true
          give_up:
            say: Не получилось, позвоните нам.
        """,
    "sub.yaml": """
        flow: sub
        steps:
          s:
            set: {x: 7}
            say: Внутри
        """,
    "pd.yaml": """
        flow: pd
        triggers:
          - button: pd
        steps:
          agree:
            ask: Согласны?
            consent: {policy: "https://example.ru/p", version: v3}
          phone:
            ask: Телефон?
            input: phone
            save: phone
            profile: phone
          mail:
            ask: Почта?
            input: email
            save: email
            check: "'@example.ru' not in value"
            retry: Только не служебная почта.
            profile: email
          bye:
            say: "Спасибо"
        """,
    "remind.yaml": """
        flow: remind
        triggers:
          - text: напомни
        steps:
          when:
            ask: Когда?
            input: datetime
            save: at
          set:
            say: Ок
            remind:
              - {flow: ping, at: "{{ at }}", before: 1h, key: "ping-{{ at }}"}
              - {flow: ping, after: 30m}
              - {flow: ping, at: "2020-01-01 10:00", key: old}
            cancel_reminder: stale
            link_channel: vk
          http:
            http:
              method: POST
              url: "https://crm.example.ru/r"
              json: {at: "{{ at }}", n: 1}
              save: answer
              on_error: failed
          done:
            say: "Ответ: {{ answer.status }}"
            end: true
          failed:
            say: Ошибка связи
        """,
    "ping.yaml": """
        flow: ping
        triggers: [{timer: true}]
        steps:
          p:
            ask: Пинг! Всё в силе?
            input: yesno
        """,
}


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> FlowSet:
    folder = tmp_path_factory.mktemp("flows")
    for name, text in FLOWS.items():
        (folder / name).write_text(dedent(text), encoding="utf-8")
    return loader.load(folder)


def at(flow: str, step: str, **vars_: object) -> DialogState:
    return DialogState(stack=(Frame(f=flow, s=step),), vars=dict(vars_))  # type: ignore[arg-type]


def texts(turn: Turn) -> list[str]:
    return [r.text for r in turn.replies]


def position(turn: Turn) -> str:
    stack = turn.state.stack
    return f"{stack[-1].flow}/{stack[-1].step}" if stack else "end"


def play(flows: FlowSet, events: Sequence[Event], state: DialogState | None = None) -> Turn:
    turn = Turn(state=state or DialogState())
    for event in events:
        turn = advance(flows, turn.state, event, NOW)
    return turn


# (state, event) -> (reply texts (substring each), position)
TABLE = [
    (None, StartEvent(), ["Привет!", "Что делаем?"], "menu/main"),
    (None, StartEvent("calc"), ["Сколько гостей?"], "calc/n"),
    (None, StartEvent("unknown-payload"), ["Привет!", "Что делаем?"], "menu/main"),
    (None, TextEvent("хочу посчитать"), ["Сколько гостей?"], "calc/n"),
    (None, TextEvent("ерунда"), ["не удалось понять", "Что делаем?"], "menu/main"),
    (None, ButtonEvent("pd"), ["Согласны?"], "pd/agree"),
    (at("calc", "n"), TextEvent("7"), ["Большая компания: 7"], "end"),
    (at("calc", "n"), TextEvent("три"), ["Малая компания"], "end"),
    (at("calc", "n"), TextEvent("50"), ["10"], "calc/n"),
    (at("calc", "n"), TextEvent("меню"), ["Что делаем?"], "menu/main"),
    (at("calc", "n"), TextEvent("Отмена"), ["Хорошо, отменили.", "Что делаем?"], "menu/main"),
    (at("calc", "n"), TextEvent("помощь"), ["Я бот-помощник", "Сколько гостей?"], "calc/n"),
    (at("calc", "n"), TextEvent("/start"), ["Привет!", "Что делаем?"], "menu/main"),
    (at("calc", "n"), ButtonEvent("cmd:menu"), ["Что делаем?"], "menu/main"),
    (at("calc", "n"), ResumeEvent("vk"), ["Сколько гостей?"], "calc/n"),
    (at("menu", "main"), TextEvent("2"), ["Внутри", "Вернулись, x=7"], "end"),
    (at("menu", "main"), ButtonEvent("calc"), ["Сколько гостей?"], "calc/n"),
    (at("menu", "main"), TextEvent("посчитать"), ["Сколько гостей?"], "calc/n"),
    (at("pd", "mail"), TextEvent("boss@example.ru"), ["Только не служебная почта."], "pd/mail"),
    # owners edit flows: a stored position that no longer exists
    (
        at("gone", "step"),
        TextEvent("привет"),
        ["сценарий разговора изменился", "Что делаем?"],
        "menu/main",
    ),
    (
        at("calc", "renamed"),
        ButtonEvent("x"),
        ["сценарий разговора изменился", "Что делаем?"],
        "menu/main",
    ),
    (at("remind", "done"), ResumeEvent("web"), [], "remind/done"),
    (at("gone", "step"), StartEvent(), ["Привет!", "Что делаем?"], "menu/main"),
    (at("calc", "n"), TimerEvent("no_such_flow", "k"), [], "calc/n"),
    # a shared contact is an answer only to a phone question
    (at("calc", "n"), ContactEvent("+79161234567"), ["Не удалось понять ответ"], "calc/n"),
    (None, ContactEvent("+79161234567"), ["не удалось понять", "Что делаем?"], "menu/main"),
]


@pytest.mark.parametrize(("state", "event", "replies", "where"), TABLE)
def test_table(
    flows: FlowSet, state: DialogState | None, event: Event, replies: list[str], where: str
) -> None:
    turn = advance(flows, state, event, NOW)
    got = texts(turn)
    assert len(got) == len(replies), got
    for want, text in zip(replies, got, strict=True):
        assert want in text
    assert position(turn) == where


def test_retry_limit_goes_to_on_fail(flows: FlowSet) -> None:
    first = advance(flows, at("calc", "n"), TextEvent("сто"), NOW)
    assert first.state.stack[-1].retries == 1
    second = advance(flows, first.state, TextEvent("тысяча"), NOW)
    assert texts(second) == ["Не получилось, позвоните нам."]
    assert position(second) == "end"


def test_set_keeps_types_and_templates(flows: FlowSet) -> None:
    turn = advance(flows, at("calc", "n"), TextEvent("3"), NOW)
    assert turn.state.vars == {"guests": 3, "size": "малая", "twice": 6}


def test_handoff_then_silence(flows: FlowSet) -> None:
    turn = play(flows, [StartEvent(), TextEvent("Человек")])
    assert texts(turn) == ["Зову человека"]
    assert turn.effects == (Handoff("просили"),)
    assert turn.state.handoff
    quiet = advance(flows, turn.state, TextEvent("алло"), NOW)
    assert quiet.replies == ()
    assert quiet.state == turn.state


def test_a_handoff_nobody_took_yields_to_the_global_commands(flows: FlowSet) -> None:
    handed = play(flows, [StartEvent(), TextEvent("Человек")])
    assert handed.state.handoff == "waiting"
    for event in (TextEvent("меню"), TextEvent("Отмена"), ButtonEvent("cmd:menu"), StartEvent()):
        back = advance(flows, handed.state, event, NOW)
        assert back.state.handoff is None, event
        assert texts(back)[-1] == "Что делаем?", event
        assert position(back) == "menu/main"
    helped = advance(flows, handed.state, TextEvent("помощь"), NOW)
    assert texts(helped) == [flows.texts.help]  # the operator was told: still handed off
    assert helped.state == handed.state


def test_an_unheard_handoff_says_nobody_will_answer(flows: FlowSet) -> None:
    handed = play(flows, [StartEvent(), TextEvent("Человек")])
    unheard = advance(flows, handed.state, HandoffUnheardEvent(), NOW)
    assert texts(unheard) == [flows.texts.handoff_unheard]
    assert "«меню»" in flows.texts.handoff_unheard
    assert unheard.state.handoff == "unheard"
    again = advance(flows, unheard.state, TextEvent("алло"), NOW)
    assert texts(again) == [flows.texts.handoff_unheard]
    assert again.state == unheard.state
    back = advance(flows, again.state, TextEvent("меню"), NOW)
    assert (texts(back), back.state.handoff) == (["Что делаем?"], None)
    late = advance(flows, back.state, HandoffUnheardEvent(), NOW)  # the customer went back
    assert late == Turn(state=back.state)


def test_a_reminder_asking_a_question_ends_a_handoff_nobody_took(flows: FlowSet) -> None:
    handed = play(flows, [StartEvent(), TextEvent("Человек")])
    for stage in ("waiting", "unheard"):
        state = handed.state.model_copy(update={"handoff": stage})
        asked = advance(flows, state, TimerEvent("ping", "k"), NOW)
        assert (texts(asked), asked.state.handoff) == (["Пинг! Всё в силе?"], None)
        assert position(advance(flows, asked.state, TextEvent("да"), NOW)) == "end"
    taken = handed.state.model_copy(update={"handoff": "taken"})
    assert advance(flows, taken, TimerEvent("ping", "k"), NOW).state.handoff == "taken"


def test_a_taken_handoff_leaves_the_customer_to_the_operator(flows: FlowSet) -> None:
    taken = DialogState(handoff="taken")
    for event in (TextEvent("меню"), TextEvent("отмена"), StartEvent(), ButtonEvent("cmd:menu")):
        assert advance(flows, taken, event, NOW) == Turn(state=taken)


def test_a_stored_handoff_flag_reads_as_a_handoff_nobody_took() -> None:
    assert DialogState.model_validate_json('{"h": true}').handoff == "waiting"
    assert DialogState.model_validate_json('{"h": false}').handoff is None
    unheard = DialogState(handoff="unheard")
    stored = unheard.model_dump_json(by_alias=True, exclude_defaults=True)
    assert stored == '{"h":"unheard"}'
    assert DialogState.model_validate_json(stored) == unheard
    assert DialogState().model_dump_json(by_alias=True, exclude_defaults=True) == "{}"


def test_a_state_stored_with_the_fields_no_version_read_still_loads() -> None:
    """``v`` (a schema version) and a frame's ``n`` (a resume step) were stored by no version
    but declared until issue 19: a state carrying them loads as the same state without."""
    stored = '{"v": 1, "k": [{"f": "main", "s": "ask", "r": 1, "n": "next"}], "x": {"a": 1}}'
    assert DialogState.model_validate_json(stored) == DialogState.model_validate_json(
        '{"k": [{"f": "main", "s": "ask", "r": 1}], "x": {"a": 1}}')
    assert DialogState.model_validate_json(stored).stack[0].step == "ask"


def test_give_up_apologises_shows_the_menu_and_calls_nothing(
    flows: FlowSet, tmp_path: Path
) -> None:
    looping = DialogState(stack=(Frame(f="remind", s="http"),), vars={"at": "x"}, waiting="abc")
    turn = give_up(flows, looping, NOW)
    assert texts(turn) == [flows.texts.stopped, "Что делаем?"]
    assert (position(turn), turn.state.waiting, turn.state.vars) == ("menu/main", None, {"at": "x"})
    assert turn.effects == ()
    # a menu that itself calls out at once: the apology alone, nothing left waiting
    (tmp_path / "menu.yaml").write_text(
        "triggers: [{command: start}]\nsteps:\n  c: {http: {method: GET, url: 'http://x'}}\n"
        "  m: {ask: Меню}\n", encoding="utf-8",
    )
    calling = loader.load(tmp_path)
    turn = give_up(calling, looping, NOW)
    assert (texts(turn), turn.effects, turn.state.waiting) == ([calling.texts.stopped], (), None)
    assert turn.state.stack == ()


def test_permission_event_changes_nothing(flows: FlowSet) -> None:
    state = at("calc", "n")
    assert advance(flows, state, PermissionEvent(False), NOW) == Turn(state=state)


def test_consent_refused_keeps_no_personal_data(flows: FlowSet) -> None:
    refused = advance(flows, at("pd", "agree"), ButtonEvent("no"), NOW)
    assert refused.effects == (RecordConsent(granted=False, text_version="v3", at=NOW),)
    assert refused.replies[0].request_phone
    phone = advance(flows, refused.state, ContactEvent("+7 916 123-45-67"), NOW)
    assert phone.effects == ()
    assert "phone" not in phone.state.vars
    mail = advance(flows, phone.state, TextEvent("me@mail.ru"), NOW)
    assert mail.effects == ()
    assert mail.state.vars == {}
    assert texts(mail) == ["Спасибо"]


def test_consent_given_saves_profile(flows: FlowSet) -> None:
    turn = play(flows, [ButtonEvent("pd"), TextEvent("да, согласен"), TextEvent("8 916 123 45 67")])
    assert turn.effects == (SaveProfile("phone", "+79161234567"),)
    assert turn.state.consent is True
    assert turn.state.vars["phone"] == "+79161234567"


def test_consent_question_shows_policy_link(flows: FlowSet) -> None:
    turn = advance(flows, None, ButtonEvent("pd"), NOW)
    buttons = turn.replies[0].buttons
    assert [(b.id, b.url) for b in buttons] == [
        ("yes", None),
        ("no", None),
        ("policy", "https://example.ru/p"),
    ]


def test_reminders_http_and_result(flows: FlowSet) -> None:
    turn = play(flows, [TextEvent("напомни"), TextEvent("завтра в 15:00")])
    assert texts(turn) == ["Ок"]
    cancel, remind_at, remind_after, passed, link, call = turn.effects
    assert remind_at == ScheduleReminder(
        key="ping-2026-01-13T15:00",
        at=datetime(2026, 1, 13, 11, 0, tzinfo=UTC),
        flow="ping",
        vars={"at": "2026-01-13T15:00"},
        about=datetime(2026, 1, 13, 12, 0, tzinfo=UTC),
    )
    assert isinstance(remind_after, ScheduleReminder)
    assert remind_after.at == datetime(2026, 1, 12, 7, 30, tzinfo=UTC)
    assert remind_after.key == "ping"
    # the past 'old' reminder is not scheduled, and says so
    assert passed == ReminderPassed(key="old", at=datetime(2020, 1, 1, 7, 0, tzinfo=UTC),
                                    flow="ping")
    assert cancel == CancelReminder("stale")
    assert link == LinkChannel("vk")
    assert isinstance(call, CallHttp)
    assert (call.method, call.url, call.json) == (
        "POST",
        "https://crm.example.ru/r",
        {"at": "2026-01-13T15:00", "n": 1},
    )
    assert turn.state.waiting == call.call_id
    again = play(flows, [TextEvent("напомни"), TextEvent("завтра в 15:00")])
    assert again == turn  # deterministic, call id included
    busy = advance(flows, turn.state, TextEvent("ну?"), NOW)
    assert texts(busy) == ["Минутку, уточняю…"]
    stale = advance(flows, turn.state, CallResultEvent("other", True, 200, {}), NOW)
    assert stale.replies == ()
    assert stale.state == turn.state
    ok = advance(flows, turn.state, CallResultEvent(call.call_id, True, 200, {"status": "ok"}), NOW)
    assert texts(ok) == ["Ответ: ok"]
    assert ok.state.waiting is None
    assert position(ok) == "end"
    failed = advance(flows, turn.state, CallResultEvent(call.call_id, False, 502), NOW)
    assert texts(failed) == ["Ошибка связи"]


def test_timer_interrupts_question_then_resumes_it(flows: FlowSet) -> None:
    turn = advance(flows, at("calc", "n"), TimerEvent("ping", "k", {"who": "я"}), NOW)
    assert texts(turn) == ["Пинг! Всё в силе?"]
    assert [f.flow for f in turn.state.stack] == ["calc", "ping"]
    back = advance(flows, turn.state, TextEvent("ага"), NOW)
    assert texts(back) == ["Сколько гостей?"]
    assert position(back) == "calc/n"
    assert back.state.vars["who"] == "я"


def test_second_reminder_of_the_same_flow_replaces_the_first(flows: FlowSet) -> None:
    first = advance(flows, at("calc", "n"), TimerEvent("ping", "a"), NOW)
    second = advance(flows, first.state, TimerEvent("ping", "b"), NOW)
    assert texts(second) == ["Пинг! Всё в силе?"]
    assert [f.flow for f in second.state.stack] == ["calc", "ping"]


def test_check_that_cannot_read_the_answer_asks_again(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "steps:\n  a:\n    ask: Код?\n    check: value | int > 5\n    retry: Больше пяти\n"
        "    save: code\n  b:\n    say: ok\n",
        encoding="utf-8",
    )
    flows = loader.load(tmp_path)
    state = at("a", "a")
    assert texts(advance(flows, state, TextEvent("abc"), NOW)) == ["Больше пяти"]
    assert texts(advance(flows, state, TextEvent("7"), NOW)) == ["ok"]
    state = DialogState(stack=(Frame(f="a", s="a"),))
    odd = "steps:\n  a:\n    ask: Код?\n    check: value.x.y > 5\n  b:\n    say: ok\n"
    (tmp_path / "a.yaml").write_text(odd, encoding="utf-8")
    assert texts(advance(loader.load(tmp_path), state, TextEvent("7"), NOW)) == [flows.texts.retry]


def test_business_starts_flow_with_vars(flows: FlowSet) -> None:
    turn = advance(flows, None, StartFlowEvent("sub", {"x": 1}), NOW)
    assert texts(turn) == ["Внутри"]
    assert turn.state.vars == {"x": 7}


def test_missing_variable_is_polite_not_an_exception(flows: FlowSet) -> None:
    """A template names a variable the stored state lacks (the owner renamed it)."""
    state = DialogState(stack=(Frame(f="remind", s="http"),), waiting="abc")
    turn = advance(flows, state, CallResultEvent("abc", True, 200, {"status": 1}), NOW)
    assert texts(turn) == ["Ответ: 1"]
    # returning from a sub-flow into a step that shows {{ x }}, but x is not stored: the
    # dialogue stays where it was, the customer hears a neutral apology, and the turn says
    # which file, line, flow and step failed (the runtime logs it at ERROR and counts it)
    state = DialogState(stack=(Frame(f="menu", s="go_sub"), Frame(f="ping", s="p")))
    failed = advance(flows, state, TextEvent("да"), NOW)
    assert texts(failed) == [flows.texts.failed]
    assert failed.state == state
    assert failed.failure is not None
    assert re.fullmatch(r"template error in .*menu\.yaml:\d+ \(flow 'menu', step 'after_sub'\): "
                        r".*'x'.*", failed.failure), failed.failure
    assert turn.failure is None


def test_silent_loop_is_stopped(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").write_text(
        "triggers: [{text: круг}]\nsteps:\n  a: {say: раз, next: b}\n  b: {next: a}\n",
        encoding="utf-8",
    )
    (tmp_path / "menu.yaml").write_text(
        "triggers: [{command: start}]\nsteps:\n  m: {ask: Меню}\n", encoding="utf-8"
    )
    flows = loader.load(tmp_path, lang="en")
    assert any("loop" in w.message for w in flows.warnings)
    turn = advance(flows, None, TextEvent("круг"), NOW)
    assert texts(turn) == [flows.texts.lost, "Меню"]
    assert turn.effects == ()


def test_state_stays_small(flows: FlowSet) -> None:
    turn = play(flows, [TextEvent("напомни"), TextEvent("завтра в 15:00")])
    size = len(turn.state.model_dump_json(by_alias=True, exclude_defaults=True))
    assert size < 200
    restored = DialogState.model_validate_json(
        turn.state.model_dump_json(by_alias=True, exclude_defaults=True)
    )
    assert restored == turn.state


# --------------------------------------------------------------------------- edges of the rules

BROKEN_MENU = {
    "menu.yaml": """
        triggers: [{command: start}]
        expects: [missing]
        steps:
          hi:
            say: Привет
            cancel_reminder: old
          ask:
            ask: "{{ missing }}, что делаем?"
        """,
}


def _folder(tmp_path: Path, files: dict[str, str]) -> FlowSet:
    for name, text in files.items():
        (tmp_path / name).write_text(dedent(text), encoding="utf-8")
    return loader.load(tmp_path)


def test_a_broken_menu_leaves_the_apology_alone(tmp_path: Path) -> None:
    flows = _folder(tmp_path, BROKEN_MENU)
    state = DialogState(stack=(Frame(f="gone", s="x"),), waiting="abc", vars={"a": 1})
    turn = advance(flows, state, TextEvent("привет"), NOW)
    assert texts(turn) == [flows.texts.lost]
    assert turn.effects == ()
    assert turn.state == DialogState(vars={"a": 1})


def test_without_a_menu_a_lost_position_is_forgotten(flows: FlowSet) -> None:
    bare = replace(flows, menu=None, on_start=None)
    state = DialogState(stack=(Frame(f="gone", s="x"),), waiting="abc")
    turn = advance(bare, state, TextEvent("привет"), NOW)
    assert texts(turn) == [flows.texts.lost]
    assert turn.state == DialogState()
    assert texts(advance(bare, None, StartEvent(), NOW)) == [flows.texts.fallback]


def test_a_typed_option_that_is_also_a_command_is_an_answer(tmp_path: Path) -> None:
    flows = _folder(
        tmp_path,
        {
            "menu.yaml": "triggers: [{command: start}]\nsteps:\n  m: {ask: Меню}\n",
            "order.yaml": """
                steps:
                  what:
                    ask: Что сделать с заказом?
                    choice: {keep: Оставить, drop: Отмена}
                    next: {keep: kept, drop: dropped}
                  kept: {say: Оставили, end: true}
                  dropped: {say: Заказ отменён, end: true}
                  name:
                    ask: Имя?
                """,
        },
    )
    turn = advance(flows, at("order", "what"), TextEvent("отмена"), NOW)
    assert texts(turn) == ["Заказ отменён"]
    assert texts(advance(flows, at("order", "what"), TextEvent("оставить"), NOW)) == ["Оставили"]
    cancelled = advance(flows, at("order", "name"), TextEvent("отмена"), NOW)
    assert texts(cancelled) == [flows.texts.cancelled, "Меню"]


def test_a_pressed_button_starts_its_flow_whatever_its_label(flows: FlowSet) -> None:
    turn = advance(flows, None, ButtonEvent("pd", "Персональные данные"), NOW)
    assert texts(turn) == ["Согласны?"]


@pytest.mark.parametrize("button", ["cmd:nonsense", "menu", "cancel"])
def test_only_a_cmd_button_of_a_known_command_is_a_command(flows: FlowSet, button: str) -> None:
    turn = advance(flows, at("calc", "n"), ButtonEvent(button), NOW)
    assert position(turn) == "calc/n"
    assert turn.state.stack[-1].retries == 1


def test_help_outside_a_question_shows_the_menu(flows: FlowSet) -> None:
    turn = advance(flows, None, TextEvent("помощь"), NOW)
    assert texts(turn)[1:] == ["Что делаем?"]
    assert texts(turn)[0] == flows.texts.help


def test_restart_without_a_start_flow_shows_the_menu(flows: FlowSet) -> None:
    bare = replace(flows, on_start=None)
    turn = advance(bare, at("calc", "n"), TextEvent("/start"), NOW)
    assert texts(turn) == ["Что делаем?"]
    assert position(turn) == "menu/main"


def test_a_failed_call_without_on_error_ends_the_flow(tmp_path: Path) -> None:
    flows = _folder(
        tmp_path,
        {
            "menu.yaml": "triggers: [{command: start}]\nsteps:\n  m: {ask: Меню}\n",
            "crm.yaml": "steps:\n  c:\n    http: {url: 'https://crm.example.ru'}\n"
            "  d: {say: Готово}\n",
        },
    )
    turn = advance(flows, None, StartFlowEvent("crm"), NOW)
    (call,) = turn.effects
    assert isinstance(call, CallHttp)
    failed = advance(flows, turn.state, CallResultEvent(call.call_id, False, 503), NOW)
    assert texts(failed) == [flows.texts.call_failed]
    assert failed.effects == ()
    assert failed.state == DialogState()
    ok = advance(flows, turn.state, CallResultEvent(call.call_id, True, 200, {"x": 1}), NOW)
    assert texts(ok) == ["Готово"]
    assert ok.state == DialogState()


def test_a_trigger_button_pressed_at_a_question_starts_its_flow(flows: FlowSet) -> None:
    turn = advance(flows, at("calc", "n"), ButtonEvent("pd"), NOW)
    assert texts(turn) == ["Согласны?"]
    assert position(turn) == "pd/agree"


def test_a_wait_for_a_call_no_step_makes_is_forgotten(flows: FlowSet) -> None:
    state = DialogState(stack=(Frame(f="calc", s="n"),), waiting="gone")
    turn = advance(flows, state, ResumeEvent("vk"), NOW)
    assert texts(turn) == ["Сколько гостей?"]
    assert turn.state == at("calc", "n")


def test_a_question_entered_afresh_allows_all_its_tries(flows: FlowSet) -> None:
    asked = advance(flows, None, TextEvent("посчитать"), NOW)
    wrong = advance(flows, asked.state, TextEvent("сто"), NOW)
    assert position(wrong) == "calc/n"
    assert wrong.state.stack[-1].retries == 1
