"""bots.runtime: the turn path on real Redis, storage, loader and engine."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, timedelta

import pytest
from aiohttp import web
from bots_harness import Harness

from bots.events import continue_command, describe, link_code_of, link_token_of
from bots.linking import JOINED, LINK_YES
from bots.runtime import Runtime
from bots.texts import SORRY
from connectors.base import Unavailable
from flows.types import (
    ButtonEvent,
    Channel,
    DialogState,
    Inbound,
    LinkChannel,
    ScheduleReminder,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
)
from storage.codec import encode_effects
from storage.intake import Arrival
from storage.store import Store


async def test_a_turn_answers_saves_state_and_history(harness: Harness) -> None:
    await harness.send("web", "s1", StartEvent())
    await harness.send("web", "s1", TextEvent("Оля"))
    assert harness.texts("web", "s1") == [
        "Как вас зовут?", "Приятно познакомиться, Оля! Сколько вам лет?",
    ]
    customer = await harness.customer("web", "s1")
    state, version = await harness.store.states.load(customer)
    assert state is not None
    assert (state.stack[-1].flow, state.stack[-1].step) == ("hello", "age")
    assert state.vars["name"] == "Оля"
    assert version == 2
    history = await harness.store.history.read(customer)
    assert [(e.direction, e.text) for e in history] == [
        ("in", "/start"), ("out", "Как вас зовут?"),
        ("in", "Оля"), ("out", "Приятно познакомиться, Оля! Сколько вам лет?"),
    ]
    assert await harness.store.inbox.pending(customer) == []


async def test_a_repeated_event_id_is_processed_once(harness: Harness) -> None:
    await harness.send("vk", "7", StartEvent(), event_id="same")
    await harness.send("vk", "7", StartEvent(), event_id="same")
    assert harness.texts("vk") == ["Как вас зовут?"]


async def test_one_info_line_per_turn(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="svyaz.bots"):
        await harness.send("web", "s1", StartEvent())
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("turn ")]
    assert len(lines) == 1
    customer = await harness.customer("web", "s1")
    assert f"customer={customer} channel=web flow=hello step=name ms=" in lines[0]


async def test_concurrent_messages_of_one_customer_keep_their_order(
    harness: Harness, redis_url: str, bot_prefix: str
) -> None:
    """Two runtimes (two processes' worth) on one Redis, 30 messages fired at once."""
    await harness.send("web", "s1", TextEvent("эхо"))
    turns = harness.runtime.turns
    second = Runtime(
        store=harness.store, flows=turns._flows, advance=turns._advance,
        delivery=turns._delivery, effects=turns._effects,
        metrics=harness.metrics, clock=harness.clock,
    )
    words = [f"m{i}" for i in range(30)]
    runtimes = [harness.runtime, second]
    await asyncio.gather(*(
        harness.send("web", "s1", TextEvent(w), wait=False) if i % 2 == 0 else
        second.accept(_inbound("s1", w))
        for i, w in enumerate(words)
    ))
    for rt in runtimes:
        await rt.idle()
    await second.close()
    customer = await harness.customer("web", "s1")
    history = await harness.store.history.read(customer, count=500)
    said = [e.text for e in history if e.direction == "in"][1:]
    assert sorted(said) == sorted(words)  # none lost, none twice
    echoes = [t for t in harness.texts("web", "s1") if t.startswith("Эхо: ")]
    assert echoes == [f"Эхо: {w}" for w in said]  # answered in arrival order
    out = [e.text for e in history if e.direction == "out"]
    assert out[1:] == [t for w in said for t in (f"Эхо: {w}", "Говорите.")]


def _inbound(user: str, text: str) -> object:
    from flows.types import Inbound

    return Inbound(channel="web", user_id=user, event_id=f"x-{text}", event=TextEvent(text))


async def test_a_failing_turn_apologises_and_the_next_works(harness: Harness) -> None:
    real = harness.runtime.turns._advance
    calls = {"n": 0}

    def flaky(flows, state, event, now):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        return real(flows, state, event, now)

    harness.runtime.turns._advance = flaky
    await harness.send("web", "s1", StartEvent())
    await harness.send("web", "s1", TextEvent("Оля"))
    await harness.send("web", "s1", TextEvent("Оля"))
    assert harness.texts("web", "s1") == [
        "Как вас зовут?", SORRY, "Приятно познакомиться, Оля! Сколько вам лет?",
    ]
    assert harness.metrics.turn_errors._value.get() == 1
    customer = await harness.customer("web", "s1")
    assert await harness.store.inbox.pending(customer) == []


async def test_a_link_token_joins_the_account_and_resumes(harness: Harness) -> None:
    await harness.send("vk", "100", StartEvent())
    await harness.send("vk", "100", TextEvent("Оля"))
    customer = await harness.customer("vk", "100")
    token = await harness.store.identities.issue_link_token(customer)
    await harness.send("max", "200", StartEvent(payload=f"link-{token}"))
    assert harness.texts("max", "200")[0].startswith("Это ссылка или код")  # issue 13: asked
    await harness.send("max", "200", ButtonEvent(LINK_YES))
    assert harness.texts("max", "200")[1:] == [
        JOINED, "Приятно познакомиться, Оля! Сколько вам лет?"]
    assert await harness.customer("max", "200") == customer
    await harness.send("max", "200", TextEvent("30"))
    assert harness.texts("max", "200")[-1] == "Записал: Оля, 30."
    accounts = {a.account for a in await harness.store.identities.accounts(customer)}
    assert accounts == {"vk:100", "max:200"}
    history = await harness.store.history.read(customer, count=100)
    assert {e.channel for e in history} >= {"vk", "max"}


async def test_a_six_digit_code_joins_the_account(harness: Harness) -> None:
    await harness.send("max", "200", StartEvent())
    customer = await harness.customer("max", "200")
    code = await harness.store.identities.issue_link_code(customer)
    await harness.send("web", "s9", StartEvent())  # a fresh web visitor first sees the greeting
    await harness.send("web", "s9", TextEvent(code))
    await harness.send("web", "s9", ButtonEvent(LINK_YES))  # issue 13: the merge is confirmed
    assert harness.texts("web", "s9")[2:] == [JOINED, "Как вас зовут?"]
    assert await harness.customer("web", "s9") == customer


async def test_a_used_link_says_so_and_starts_over(harness: Harness) -> None:
    await harness.send("web", "s1", StartEvent(payload="link-nonsense-token"))
    assert harness.texts("web", "s1")[0].startswith("Ссылка для продолжения устарела")
    assert harness.texts("web", "s1")[1] == "Как вас зовут?"


async def test_six_digits_that_are_no_code_are_an_ordinary_answer(harness: Harness) -> None:
    await harness.send("web", "s1", StartEvent())
    await harness.send("web", "s1", TextEvent("Оля"))
    await harness.send("web", "s1", TextEvent("123456"))
    assert harness.texts("web", "s1")[-1] == "Записал: Оля, 123456."


async def test_six_digits_that_are_no_code_stay_pending_until_their_turn_is_saved(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inbox entry of a possible code was settled before the code was looked up, so an
    ordinary six-digit answer (a postcode) whose turn then failed was lost."""
    await harness.send("web", "s1", StartEvent())
    await harness.send("web", "s1", TextEvent("Оля"))
    customer = await harness.customer("web", "s1")
    _fail_next_save(harness, monkeypatch, ran=False)
    await harness.send("web", "s1", TextEvent("123456"))
    assert [p.event for _, p in await harness.store.inbox.pending(customer)] == [
        TextEvent("123456")]

    async def answered() -> bool:
        return harness.texts("web", "s1")[-1:] == ["Записал: Оля, 123456."]

    await _eventually(answered)


async def test_link_channel_effect_offers_deep_links_and_a_code(harness: Harness) -> None:
    await harness.send("vk", "100", TextEvent("продолжить"))
    reply = harness.channels["vk"].sent[-1][1]
    urls = [b.url for b in reply.buttons]
    assert any(u and u.startswith("https://max.ru/testbot?start=link-") for u in urls)
    assert any(u and u.startswith("http://bot.test/chat#link=") for u in urls)
    assert not any(u and "vk.me" in u for u in urls)  # not the channel we are on
    code = link_code_of(TextEvent(reply.text.split("код ")[1][:6]))
    assert code is not None
    token = urls[0].split("link-")[1] if urls[0] else ""
    await harness.send("max", "5", StartEvent(payload=f"link-{token}"))
    await harness.send("max", "5", ButtonEvent(LINK_YES))  # issue 13: the merge is confirmed
    assert await harness.customer("max", "5") == await harness.customer("vk", "100")


async def test_storage_down_raises_unavailable(harness: Harness, bot_prefix: str) -> None:
    dead = Store.from_url("redis://127.0.0.1:1/0", bot=bot_prefix)
    harness.runtime._store = dead
    try:
        with pytest.raises(Unavailable):
            await harness.send("web", "s1", StartEvent())
    finally:
        harness.runtime._store = harness.store
        await dead.close()


async def test_the_sweeper_processes_what_a_crash_left_in_the_inbox(harness: Harness) -> None:
    from flows.types import Inbound

    customer = await harness.store.identities.resolve("web:s1")
    await harness.store.inbox.push(customer, Inbound("web", "s1", "left", StartEvent()))
    await harness.runtime.sweep()
    await harness.runtime.idle()
    assert harness.texts("web", "s1") == ["Как вас зовут?"]


async def test_timer_events_go_to_the_most_recent_channel(harness: Harness) -> None:
    await harness.send("vk", "100", StartEvent())
    customer = await harness.customer("vk", "100")
    token = await harness.store.identities.issue_link_token(customer)
    await harness.send("max", "200", StartEvent(payload=f"link-{token}"))
    await harness.send("max", "200", ButtonEvent(LINK_YES))
    await harness.runtime.inject(customer, TimerEvent("ping", "k"), event_id="t1")
    await harness.runtime.idle()
    assert harness.texts("max", "200").count("Напоминание!") == 1
    harness.channels["max"].refuse.add("200")
    await harness.runtime.inject(customer, TimerEvent("ping", "k"), event_id="t2")
    await harness.runtime.idle()
    assert harness.texts("vk", "100").count("Напоминание!") == 1
    assert harness.metrics.delivery_failovers.labels("max")._value.get() == 1
    harness.channels["vk"].refuse.add("100")
    await harness.runtime.inject(customer, TimerEvent("ping", "k"), event_id="t3")
    await harness.runtime.idle()
    assert [n.kind for n in harness.owner_notes] == ["undeliverable"]
    history = await harness.store.history.read(customer, count=100)
    assert any(e.note.startswith("undeliverable") for e in history)


def test_pure_helpers() -> None:
    assert link_token_of(StartEvent("link-abc")) == "abc"
    assert link_token_of(StartEvent("promo")) is None
    assert link_code_of(TextEvent(" 123456 ")) == "123456"
    assert link_code_of(TextEvent("1234567")) is None
    assert describe(ButtonEvent("yes", "Да")) == ("Да", "button yes")


def test_continue_commands() -> None:
    assert continue_command(TextEvent("Продолжить в MAX")) == LinkChannel("max")
    assert continue_command(TextEvent("продолжить во ВКонтакте")) == LinkChannel("vk")
    assert continue_command(TextEvent("продолжить на сайте!")) == LinkChannel("web")
    assert continue_command(TextEvent("продолжить в другом мессенджере")) == LinkChannel(None)
    assert continue_command(TextEvent("продолжить в пятницу")) is None
    assert continue_command(ButtonEvent("продолжить в max")) is None


async def test_continue_command_offers_a_link_and_keeps_the_step(harness: Harness) -> None:
    await harness.send("vk", "100", StartEvent())
    await harness.send("vk", "100", TextEvent("продолжить в MAX"))
    reply = harness.channels["vk"].sent[-1][1]
    assert [b.text for b in reply.buttons] == ["Продолжить в MAX"]
    customer = await harness.customer("vk", "100")
    state, _ = await harness.store.states.load(customer)
    assert state is not None
    assert state.stack[-1].step == "name"
    await harness.send("vk", "100", TextEvent("Оля"))
    assert harness.texts("vk", "100")[-1] == "Приятно познакомиться, Оля! Сколько вам лет?"


async def _share_phone(harness: Harness, channel: Channel, user: str, phone: str) -> None:
    for text in ("телефон", "да", phone):
        await harness.send(channel, user, TextEvent(text))


async def test_same_phone_in_two_channels_is_offered_never_joined_silently(
    harness: Harness,
) -> None:
    await _share_phone(harness, "vk", "100", "+7 999 123-45-67")
    assert harness.texts("vk", "100")[-1] == "Спасибо!"
    await _share_phone(harness, "web", "s1", "8 (999) 123-45-67")
    assert harness.texts("web", "s1")[-1] == "Спасибо!"  # issue 13: as for an unknown number
    vk_customer, web_customer = (await harness.customer("vk", "100"),
                                 await harness.customer("web", "s1"))
    assert vk_customer != web_customer  # not joined on the phone alone
    there = harness.texts("vk", "100")[-1]
    code = re.search(r"код (\d{6})", there)
    assert code, there
    await harness.send("vk", "100", TextEvent(code.group(1)))
    await harness.send("vk", "100", ButtonEvent(LINK_YES))  # issue 13: confirmed, then joined
    assert await harness.customer("web", "s1") == vk_customer  # the older customer stays
    profile = await harness.store.profiles.get(vk_customer)
    assert profile.phone == "+79991234567"


@pytest.fixture
async def business() -> AsyncIterator[tuple[str, list[str], list[int]]]:
    """The business's own HTTP system: answers with the queued statuses, then 200."""
    seen: list[str] = []
    statuses: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        status = statuses.pop(0) if statuses else 200
        return web.json_response({"free": ["10:00", "11:30"]}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen, statuses
    await runner.cleanup()


async def test_http_calls_feed_their_result_back_into_the_flow(
    harness: Harness, business: tuple[str, list[str], list[int]]
) -> None:
    url, seen, statuses = business
    await harness.send("web", "s1", StartEvent())
    customer = await harness.customer("web", "s1")
    statuses += [500]  # a GET is retried once the business recovers
    await harness.runtime.inject(customer, StartFlowEvent("call", {"url": url}), event_id="a")
    await harness.runtime.idle()
    # (then the interrupted question is asked again)
    assert harness.texts("web", "s1")[1:3] == ["Слоты: 10:00, 11:30", "Записали."]
    assert seen == ["GET /slots", "GET /slots", "POST /book"]


async def test_a_failed_post_is_not_retried_and_goes_to_the_failure_step(
    harness: Harness, business: tuple[str, list[str], list[int]]
) -> None:
    url, seen, statuses = business
    await harness.send("web", "s1", StartEvent())
    customer = await harness.customer("web", "s1")
    statuses += [200, 503]
    await harness.runtime.inject(customer, StartFlowEvent("call", {"url": url}), event_id="a")
    await harness.runtime.idle()
    assert harness.texts("web", "s1")[1:3] == ["Слоты: 10:00, 11:30", "Система недоступна."]
    assert seen == ["GET /slots", "POST /book"]


async def test_a_redis_stall_mid_turn_leaves_the_entry_for_the_sweeper(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (bench/reminders): a turn whose save timed out was settled with an apology
    and a due reminder was lost; now the entry stays pending and the sweep runs it again."""
    await harness.send("web", "s1", StartEvent())
    customer = await harness.customer("web", "s1")
    _fail_next_save(harness, monkeypatch, ran=False)
    await harness.send("web", "s1", TextEvent("Оля"))
    assert SORRY not in harness.texts("web", "s1")
    assert len(await harness.store.inbox.pending(customer)) == 1

    await harness.runtime.sweep()
    await harness.runtime.idle()
    assert harness.texts("web", "s1")[-1] == "Приятно познакомиться, Оля! Сколько вам лет?"
    assert await harness.store.inbox.pending(customer) == []


async def _eventually(check: object, seconds: float = 5.0) -> None:
    """Wait until ``check()`` is true; the retry back-off starts at 0.5 s, the sweeps at 30."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "not within the retry back-off"
        await asyncio.sleep(0.05)


async def test_after_a_save_redis_never_answered_the_entry_runs_again_soon(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await harness.send("web", "s1", StartEvent())
    _fail_next_save(harness, monkeypatch, ran=False)
    await harness.send("web", "s1", TextEvent("Оля"))

    async def answered() -> bool:
        return harness.texts("web", "s1")[-1:] == [
            "Приятно познакомиться, Оля! Сколько вам лет?"]

    await _eventually(answered)  # no sweep: the runtime tried again by itself
    await harness.runtime.idle()
    customer = await harness.customer("web", "s1")
    assert await harness.store.inbox.pending(customer) == []


async def test_replies_a_save_wrote_unanswered_are_sent_soon_and_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The save ran, but its answer never came (a stall past the deadline): its replies sat
    in the outbox until the stale re-send, a minute later."""
    await harness.send("web", "s1", StartEvent())
    _fail_next_save(harness, monkeypatch, ran=True)
    await harness.send("web", "s1", TextEvent("Оля"))
    reply = "Приятно познакомиться, Оля! Сколько вам лет?"
    assert harness.texts("web", "s1")[-1] != reply  # the turn gave up before sending

    async def answered() -> bool:
        return harness.texts("web", "s1")[-1:] == [reply]

    await _eventually(answered)
    await harness.runtime.idle()
    await harness.runtime.sweep()  # nothing is left for the stale re-send
    await harness.runtime.idle()
    assert harness.texts("web", "s1").count(reply) == 1
    assert await harness.store.outbox.pending() == []


async def test_a_release_redis_never_answered_neither_doubles_nor_blocks(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replies went out but the round trip that acknowledges them and frees the lock got
    no answer: the lock's token is kept (the next turn takes it over at once) and the replies
    are acknowledged, so the stale re-send never repeats them."""
    from storage.errors import StorageUnavailable

    store = harness.store
    await harness.send("web", "s1", StartEvent())
    customer = await harness.customer("web", "s1")
    failures = 2  # the release_if_idle that ends the turn, then the release after it

    def flaky(real: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
        async def call(*args: object, **kwargs: object) -> object:
            nonlocal failures
            if failures:
                failures -= 1
                raise StorageUnavailable("redis unavailable: TimeoutError (injected)")
            return await real(*args, **kwargs)
        return call

    monkeypatch.setattr(store, "release_if_idle", flaky(store.release_if_idle))
    monkeypatch.setattr(store, "release", flaky(store.release))
    await harness.send("web", "s1", TextEvent("Оля"))
    assert harness.texts("web", "s1")[-1] == "Приятно познакомиться, Оля! Сколько вам лет?"
    assert failures == 0

    async def settled() -> bool:
        return not await store.outbox.pending() and not await store.redis.exists(
            store.keys.lock(customer))

    await _eventually(settled)
    await harness.send("web", "s1", TextEvent("30"))  # the lock does not stand in the way
    assert len(harness.texts("web", "s1")) == 3
    await harness.runtime.sweep()
    await harness.runtime.idle()
    assert len(harness.texts("web", "s1")) == 3  # nothing re-sent


def _fail_next_save(harness: Harness, monkeypatch: pytest.MonkeyPatch, *, ran: bool) -> None:
    """The next state save fails as if Redis stalled past the deadline: before Redis ran it,
    or (``ran``) after — the answer lost, the state, settled entry and replies written."""
    from storage.errors import StorageUnavailable

    real_save = harness.store.states.save
    failures = [StorageUnavailable("redis unavailable: TimeoutError (injected)")]

    async def save(*args: object, **kwargs: object) -> int:
        if failures and not ran:
            raise failures.pop()
        version = await real_save(*args, **kwargs)  # type: ignore[arg-type]
        if failures:
            raise failures.pop()
        return version

    monkeypatch.setattr(harness.store.states, "save", save)


class _Killed(BaseException):
    """The process dying between a turn's save and its effects (nothing after runs)."""


async def test_effects_of_a_turn_cut_after_its_save_run_with_the_next_turn(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A booking confirmed and saved, then the process died before scheduling its reminder:
    the reminder is scheduled when the customer's inbox is next processed, not lost."""
    effects = harness.runtime.turns._effects
    run, replay = effects.run, effects.replay
    replays: list[str] = []

    async def killed(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(effects, "run", run)
        raise _Killed

    async def counted(customer: str, left: str) -> int:
        replays.append(customer)
        return await replay(customer, left)

    monkeypatch.setattr(effects, "run", killed)
    monkeypatch.setattr(effects, "replay", counted)
    arrival = await _accepted(harness, "max", "91", "напомни")
    with pytest.raises(_Killed):
        await harness.runtime.process(arrival.customer, arrival.lease)
    customer = await harness.customer("max", "91")
    assert await harness.store.reminders.list(customer) == []  # cut before it
    await harness.send("max", "91", TextEvent("привет"))
    assert await harness.store.reminders.list(customer) == ["ping"]
    await harness.send("max", "91", TextEvent("ещё"))  # once: the release forgot them
    assert replays == [customer]


async def _accepted(harness: Harness, channel: str, user: str, text: str) -> Arrival:
    inbound = Inbound(channel=channel, user_id=user, event_id=f"cut-{user}",  # type: ignore[arg-type]
                      event=TextEvent(text))
    arrival = await harness.store.intake.take(f"{channel}:{inbound.event_id}", inbound)
    assert arrival is not None
    return arrival


async def test_a_cut_turns_effects_run_at_the_take_over_without_a_new_message(
    harness: Harness, bot_prefix: str, redis_url: str,
) -> None:
    """The booking was confirmed and saved, then the process died before scheduling the
    reminder, and the customer does not write again: the restarted process runs the turn's
    effects at its first sweep."""
    customer = await harness.store.identities.resolve("max:92")
    dead = Store.from_url(redis_url, bot=bot_prefix, instance=harness.store.instance)
    try:
        lock = await dead.states.locks.acquire(customer)
        at = harness.clock().astimezone(UTC) + timedelta(hours=1)
        effects = encode_effects("max", [ScheduleReminder("visit", at, "ping")])
        await dead.states.save(customer, DialogState(), version=0, lock=lock, effects=effects)
    finally:
        await dead.close()  # killed: neither the effects nor the release happened
    await harness.runtime.take_over(everything=False)
    await harness.runtime.sweep()
    await harness.runtime.idle()
    assert await harness.store.reminders.list(customer) == ["visit"]
    assert await harness.store.states.breaker.break_mine() == []  # (released by the sweep's turn)
