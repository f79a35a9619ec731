"""The funnel's figures are exact: known conversations played through the real runtime on
real Redis (the bots harness: storage, engine, delivery, linking), with retries, abandons, a
hand-off and a customer who moves from VK to the web chat mid-flow; every count is checked.
A second test rebuilds the same counts from the customers' history streams alone (replaying
each one's inbound messages through the engine) and finds the same numbers."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

from bots_harness import Harness

from bots import stats
from bots.linking import LINK_YES
from flows.engine import advance
from flows.funnel import Tally
from flows.types import ButtonEvent, Event, Happened, StartEvent, TextEvent
from storage.funnel import facts_in, field_of
from storage.history import HistoryEntry
from storage.keyparts import funnel_day

DAY = "2026-11-23"  # the harness clock's day in Moscow


async def _continue_on_web(harness: Harness, user: str, web: str) -> None:
    """The customer asks to go on in the web chat and opens the link there."""
    await harness.send("vk", user, TextEvent("продолжить на сайте"))
    url = next(b.url for _, r in harness.channels["vk"].sent for b in r.buttons if b.url)
    token = re.search(r"link[-=]([A-Za-z0-9_-]+)", url or "")
    assert token, url
    await harness.send("web", web, StartEvent(payload=f"link-{token.group(1)}"))
    await harness.send("web", web, ButtonEvent(LINK_YES))  # «Объединить»


async def play(harness: Harness) -> None:
    h = harness
    for text in ("привет", "Анна", "абв"):  # A: one retry, then done
        await h.send("vk", "a", TextEvent(text))
    h.clock.advance(seconds=45)
    await h.send("vk", "a", TextEvent("30"))
    for text in ("привет", "Борис"):  # B: leaves at the age
        await h.send("max", "b", TextEvent(text))
    await h.send("web", "c", StartEvent())  # C: leaves at the name
    for text in ("привет", "Дина"):  # D: moves to the web chat, answers there
        await h.send("vk", "d", TextEvent(text))
    await _continue_on_web(h, "d", "d-web")
    await h.send("web", "d-web", TextEvent("25"))
    await h.send("max", "e", TextEvent("оператор"))  # E: a hand-off
    for text in ("привет", "Фёдор", "абв", "где", "40"):  # F: two retries
        await h.send("vk", "f", TextEvent(text))


T = Tally
EXPECTED = sorted([
    T("started", "hello", "", "vk", 3), T("started", "hello", "", "max", 1),
    T("started", "hello", "", "web", 1),
    T("entered", "hello", "name", "vk", 3), T("entered", "hello", "name", "max", 1),
    T("entered", "hello", "name", "web", 1),
    T("answered", "hello", "name", "vk", 3, 0), T("answered", "hello", "name", "max", 1, 0),
    T("entered", "hello", "age", "vk", 3), T("entered", "hello", "age", "max", 1),
    T("retried", "hello", "age", "vk", 3),
    T("answered", "hello", "age", "vk", 1, 0), T("answered", "hello", "age", "vk", 1, 2),
    T("answered", "hello", "age", "web", 1, 0),  # D, after moving to the web chat
    T("entered", "hello", "done", "vk", 2), T("entered", "hello", "done", "web", 1),
    T("finished", "hello", "", "vk", 2), T("finished", "hello", "", "web", 1),
    T("started", "operator", "", "max", 1), T("entered", "operator", "call", "max", 1),
    T("handed_off", "operator", "call", "max", 1),
], key=repr)


async def test_every_count_is_exact(harness: Harness) -> None:
    await play(harness)
    assert sorted(await harness.store.funnel.days([DAY]), key=repr) == EXPECTED
    flows = harness.runtime.turns._flows()
    hello = await stats.read(harness.store.funnel, flows, "hello", [DAY])
    assert (hello.started, hello.finished, hello.conversion) == (5, 3, 0.6)
    name, age, done = hello.steps
    assert (name.entered, name.answered, name.dropped) == (5, 4, 1)  # C left at the name
    assert (age.entered, age.answered, age.dropped, age.retried) == (4, 3, 1, 3)  # B left
    assert age.median == 0  # two of three answers within 10 s
    assert (done.entered, done.question) == (3, False)
    vk = await stats.read(harness.store.funnel, flows, "hello", [DAY], "vk")
    # Per channel, D's move shows: entered the age in VK, answered it in the web chat.
    assert (vk.started, vk.finished, vk.steps[1].dropped) == (3, 2, 1)
    operator = await stats.read(harness.store.funnel, flows, "operator", [DAY])
    assert (operator.started, operator.handed_off, operator.finished) == (1, 1, 0)
    metrics = harness.metrics.render().decode()
    assert 'svyaz_funnel_total{channel="vk",flow="hello",kind="retried",step="age"} 3.0' \
        in metrics


def _event_of(entry: HistoryEntry) -> Event | None:
    """The engine's event of an inbound history entry (None: linking's own, not a turn)."""
    if entry.direction != "in" or entry.note.startswith("link"):
        return None
    if entry.note == "start":
        return StartEvent()
    if entry.note.startswith("button "):
        return ButtonEvent(entry.note.removeprefix("button "), entry.text)
    return TextEvent(entry.text)


async def _rebuilt(harness: Harness) -> Counter[str]:
    """Every customer's inbound messages replayed through the engine, counted as the save
    counts them (without the time bucket: the history keeps wall-clock times)."""
    flows = harness.runtime.turns._flows()
    counted: Counter[str] = Counter()
    for customer in await harness.store.redis.smembers(harness.store.keys.customers):
        state = None
        for entry in await harness.store.history.read(_text(customer), count=1000):
            event = _event_of(entry)
            if event is None:
                continue
            turn = advance(flows, state, event, datetime.fromtimestamp(entry.ts, UTC))
            state = turn.state
            counted.update(_unbucketed(field_of(f, entry.channel)) for f in turn.happened)
    return counted


def _unbucketed(name: str) -> str:
    parts = name.split("|")
    return "|".join(parts[:4] + parts[5:]) if parts[0] == "a" else name


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_the_history_streams_give_the_same_counts(harness: Harness) -> None:
    await play(harness)
    stored: Counter[str] = Counter()
    for t in await harness.store.funnel.days([DAY]):
        stored[_unbucketed(field_of(Happened(t.kind, t.flow, t.step, t.choice or None),
                                    t.channel))] += t.count
    rebuilt = await _rebuilt(harness)
    assert rebuilt == stored
    assert sum(stored.values()) == sum(t.count for t in EXPECTED)


async def test_the_counters_hold_nobody(harness: Harness) -> None:
    """Aggregate only: no customer id, account or typed text in any counter field, so
    ``svyaz forget`` has nothing to erase there (the asked time of a step is in the
    customer's state, which it erases)."""
    await play(harness)
    store = harness.store
    stored = [_text(f) for f in await store.redis.hkeys(funnel_day(store.keys.prefix, DAY))]
    fields = [fact for f in stored for fact in facts_in(f)]  # (a turn's facts: one field)
    people = {_text(c) for c in await store.redis.smembers(store.keys.customers)}
    said = {"Анна", "Борис", "Дина", "Фёдор", "абв", "где", "d-web"}
    assert fields
    assert not [f for f in fields for part in f.split("|") if part in people | said]
    assert all(f.split("|")[0] in "serfdah" for f in fields)  # (the one-letter kinds)
