"""Hypothesis: whatever the customer sends, advance never raises, always answers, and is
deterministic — on the example flows, from any reachable or corrupted state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import loader
from flows.engine import advance
from flows.types import (
    ButtonEvent,
    CallResultEvent,
    ContactEvent,
    DialogState,
    Event,
    Frame,
    ResumeEvent,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"
FLOWS = loader.load(EXAMPLES)
STEPS = [(f.name, s) for f in FLOWS.flows.values() for s in f.steps]
WORDS = [
    "да",
    "нет",
    "2",
    "завтра",
    "15:00",
    "меню",
    "отмена",
    "помощь",
    "записаться",
    "+79161234567",
    "/start",
    "{{ 7*7 }}",
    "{% for x in y %}",
    "25.12",
    "Стрижка",
]
BUTTONS = ["yes", "no", "booking", "order", "cmd:menu", "cancel", "Анна", "10:00", "move"]

texts = st.one_of(st.sampled_from(WORDS), st.text(max_size=60))
customer = st.one_of(
    texts.map(TextEvent),
    st.builds(ButtonEvent, st.one_of(st.sampled_from(BUTTONS), st.text(max_size=20)), texts),
    st.builds(StartEvent, st.one_of(st.none(), st.sampled_from(["booking", "order", "x"]))),
    texts.map(lambda t: ContactEvent(t)),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
other: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        TimerEvent,
        st.sampled_from([*FLOWS.flows, "gone"]),
        st.text(max_size=5),
        st.dictionaries(st.sampled_from(["day", "time", "service", "x"]), json_values),
    ),
    st.builds(
        CallResultEvent, st.text(max_size=5), st.booleans(), st.integers(0, 600), json_values
    ),
    st.builds(StartFlowEvent, st.sampled_from([*FLOWS.flows, "gone"])),
    st.just(ResumeEvent("web")),
)
frames = st.one_of(
    st.sampled_from(STEPS).map(lambda fs: Frame(f=fs[0], s=fs[1])),
    st.builds(lambda f, s: Frame(f=f, s=s), st.text(max_size=8), st.text(max_size=8)),
)
states = st.builds(
    lambda stack, vars_, waiting, consent: DialogState(
        k=tuple(stack), x=vars_, w=waiting, c=consent
    ),
    st.lists(frames, max_size=3),
    st.dictionaries(
        st.sampled_from(
            ["day", "time", "service", "slots", "phone", "name", "rescheduling", "order_id"]
        ),
        json_values,
        max_size=4,
    ),
    st.none() | st.text(max_size=4),
    st.none() | st.booleans(),
)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(st.one_of(customer, other), min_size=1, max_size=12), now=moments)
def test_any_conversation_is_answered(events: list[Event], now: datetime) -> None:
    state: DialogState | None = None
    for event in events:
        turn = advance(FLOWS, state, event, now)
        if isinstance(event, TextEvent | ButtonEvent | StartEvent | ContactEvent) and not (
            state and state.handoff
        ):
            assert turn.replies, f"no answer to {event!r} in {state!r}"
        assert advance(FLOWS, state, event, now) == turn
        state = turn.state
        now += timedelta(minutes=7)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=states, event=st.one_of(customer, other), now=moments)
def test_any_stored_state_is_handled(state: DialogState, event: Event, now: datetime) -> None:
    turn = advance(FLOWS, state, event, now)
    if isinstance(event, TextEvent | ButtonEvent | StartEvent | ContactEvent):
        assert turn.replies
    for frame in turn.state.stack:
        assert frame.step in FLOWS.flows[frame.flow].steps
    assert len(turn.state.model_dump_json(by_alias=True, exclude_defaults=True)) < 4096 or (
        len(state.model_dump_json()) > 1000
    )
