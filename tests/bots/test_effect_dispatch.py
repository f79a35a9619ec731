"""Every kind of effect is handled by every consumer that dispatches on it.

``flows.types.EFFECT_KINDS`` is the one list of kinds. Each consumer matches with a final
``assert_never`` (mypy flags a missing kind); these tests run each consumer over one effect of
every kind, so a kind added without a handler also fails here, naming the consumer.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bots.effects import Effects, riding
from bots.flowchat import ChatSession, describe
from bots.linking import LinkTargets
from bots.owner import Owner
from flows.convtest import effect_data
from flows.loader import load
from flows.types import (
    EFFECT_KINDS,
    CallHttp,
    CancelReminder,
    Effect,
    Handoff,
    HandoffUnheardEvent,
    Inbound,
    LinkChannel,
    RecordConsent,
    ReminderPassed,
    SaveProfile,
    ScheduleReminder,
    SetTags,
    TextEvent,
)
from storage.save import Writes
from storage.store import Store

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SAMPLES: dict[type, Effect] = {
    ScheduleReminder: ScheduleReminder(key="visit", at=AT, flow="start"),
    ReminderPassed: ReminderPassed(key="visit", at=AT, flow="start"),
    CancelReminder: CancelReminder(key="visit"),
    CallHttp: CallHttp(call_id="c1", method="GET", url="http://crm.invalid/x"),
    Handoff: Handoff(reason="вопрос"),
    LinkChannel: LinkChannel(target="max"),
    SaveProfile: SaveProfile(field="name", value="Анна"),
    RecordConsent: RecordConsent(granted=True, text_version="1", at=AT),
    SetTags: SetTags(("vip",)),
}
EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"


def test_there_is_one_sample_of_every_effect_kind() -> None:
    assert set(SAMPLES) == set(EFFECT_KINDS), "add a sample of the new effect kind here"


@pytest.mark.parametrize("kind", EFFECT_KINDS, ids=lambda k: k.__name__)
def test_pure_consumers_handle_every_kind(kind: type) -> None:
    effect = SAMPLES[kind]
    assert describe(effect, "Europe/Moscow").startswith("[")
    assert effect_data(effect, "Europe/Moscow")
    session = ChatSession.start(load(EXAMPLES), io.StringIO(), now=AT)
    calls = session._apply([effect])
    assert calls == ([effect] if kind is CallHttp else [])
    assert (kind is ScheduleReminder) == bool(session.reminders)


class _Reminders:
    def __init__(self) -> None:
        self.done: list[str] = []

    async def schedule(self, customer: str, reminder: ScheduleReminder) -> None:
        self.done.append(f"schedule {reminder.key}")

    async def schedule_all(self, customer: str, reminders: Sequence[ScheduleReminder]) -> None:
        if len(reminders) > 1:
            self.done.append(f"together {len(reminders)}")
        for reminder in reminders:
            await self.schedule(customer, reminder)

    async def cancel(self, customer: str, key: str) -> bool:
        self.done.append(f"cancel {key}")
        return True

    async def move(self, source: str, target: str) -> int:
        return 0


@pytest.fixture
async def effects(redis_url: str, bot_prefix: str) -> AsyncIterator[tuple[Effects, _Reminders]]:
    store = Store.from_url(redis_url, bot=bot_prefix)
    http = aiohttp.ClientSession()
    reminders = _Reminders()
    owner = Owner(webhook=None, chats={}, connectors={}, http=lambda: http)
    yield Effects(store=store, reminders=reminders, owner=owner,
                  links=lambda: LinkTargets(
                      {"web": "http://bot.test", "max": "testbot", "vk": "club1"}),
                  channels=frozenset({"vk", "max", "web"}), http=lambda: http), reminders
    await http.close()
    await store.close()


@pytest.mark.parametrize("kind", EFFECT_KINDS, ids=lambda k: k.__name__)
async def test_the_turn_runner_handles_every_kind(
    effects: tuple[Effects, _Reminders], kind: type
) -> None:
    runner, reminders = effects
    inbound = Inbound(channel="vk", user_id="1", event_id="e1", event=TextEvent("hi"))
    outcome = await runner.run("cust1", inbound, [SAMPLES[kind]])
    assert outcome.calls == ((SAMPLES[kind],) if kind is CallHttp else ())
    assert bool(outcome.replies) == (kind is LinkChannel)
    assert outcome.events == ((HandoffUnheardEvent(),) if kind is Handoff else ())
    reminded = {ScheduleReminder: ["schedule visit"], CancelReminder: ["cancel visit"]}
    assert reminders.done == reminded.get(kind, [])


@pytest.mark.parametrize("kind", EFFECT_KINDS, ids=lambda k: k.__name__)
async def test_the_replay_handles_every_kind(
    effects: tuple[Effects, _Reminders], kind: type
) -> None:
    runner, reminders = effects
    await runner._durable("cust1", "vk", SAMPLES[kind])
    reminded = {ScheduleReminder: ["schedule visit"], CancelReminder: ["cancel visit"]}
    assert reminders.done == reminded.get(kind, [])


async def test_a_turn_s_reminders_in_a_row_are_scheduled_together(
    effects: tuple[Effects, _Reminders],
) -> None:
    """A booking's two reminders: one ``schedule_all`` (one round trip); a cancel between
    two keeps the order (a cancel then a schedule of the same key must not swap)."""
    runner, reminders = effects
    inbound = Inbound(channel="vk", user_id="1", event_id="e1", event=TextEvent("hi"))
    visit = SAMPLES[ScheduleReminder]
    assert isinstance(visit, ScheduleReminder)
    two_hours = replace(visit, key="visit-2h")
    await runner.run("cust1", inbound, [visit, two_hours, CancelReminder("visit"), visit])
    assert reminders.done == ["together 2", "schedule visit", "schedule visit-2h",
                              "cancel visit", "schedule visit"]


def test_profile_fields_but_the_phone_and_tags_ride_the_save() -> None:
    """``riding``: the name and a valid e-mail (normalised) and tags go with the state; the
    phone (its index, the linking offer), a value the profile refuses and every other effect
    stay effects, in their order."""
    consent = SAMPLES[RecordConsent]
    effects = (SaveProfile("name", " Оля "), consent, SaveProfile("phone", "+79161234567"),
               SaveProfile("email", "Olya@Mail.RU"), SaveProfile("email", "not mail"),
               SetTags(("vip",)))
    writes, rest = riding(effects)
    assert writes == Writes((("name", "Оля"), ("email", "Olya@mail.ru")), ("vip",))
    assert rest == (consent, SaveProfile("phone", "+79161234567"),
                    SaveProfile("email", "not mail"))
    assert riding((consent,)) == (None, (consent,))
