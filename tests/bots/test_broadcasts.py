"""Broadcasts end to end on real Redis with recording channels: consent, the «Отписаться»
button, per-channel numbers, exactly one copy through a crash and a merge, pause, cancel,
quiet hours, and erasure from the recipient lists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import pytest
from bots_harness import ZONE, Harness

from bots import broadcast_send
from bots.broadcast_send import Sender
from bots.broadcasts import Broadcaster, BroadcastError
from bots.delivery import Delivery
from bots.desk.queries import customer_export
from flows.broadcast import BroadcastSpec, reply_of
from flows.segments import Segment
from flows.types import UNSUBSCRIBE_BUTTON_ID, ButtonEvent, TextEvent

SEGMENTS: Mapping[str, Segment] = {"all": Segment(), "messengers": Segment(channel=["max", "vk"])}
ADS = BroadcastSpec(title="Декабрь", kind="ads", segment="all", text="Скидка 20% в декабре!",
                    buttons=[{"text": "Сайт", "url": "https://example.ru"}],  # type: ignore[list-item]
                    converted="записан")
ANY_HOUR = ADS.model_copy(update={"quiet": "00:00-00:00"})  # (the test runs at any hour)
NOTICE = BroadcastSpec(title="31-го", kind="service", segment="messengers",
                       text="31 декабря мы закрыты.")


def _parts(harness: Harness) -> tuple[Broadcaster, Sender]:
    clock = lambda: harness.clock.now.timestamp()  # noqa: E731
    delivery = Delivery(store=harness.store, connectors=harness.channels,
                        metrics=harness.metrics)
    owner = Broadcaster(store=harness.store, segments=lambda: SEGMENTS, clock=clock)
    sender = Sender(store=harness.store, delivery=delivery, inject=harness.runtime.inject,
                    segments=lambda: SEGMENTS, timezone="Europe/Moscow", clock=clock)
    return owner, sender


async def _customers(harness: Harness) -> dict[str, str]:
    """vk:1 and max:2 agreed to advertising, web:3 did not; all wrote to the bot."""
    found = {}
    for channel, user in (("vk", "1"), ("max", "2"), ("web", "3")):
        await harness.send(channel, user, TextEvent("рассылка"))
        await harness.send(channel, user, TextEvent("да" if channel != "web" else "нет"))
        found[channel] = await harness.customer(channel, user)
    return found


def _copies(harness: Harness, text: str) -> dict[str, int]:
    return {ch: sum(r.text == text for _, r in rec.sent) for ch, rec in harness.channels.items()}


async def test_ads_go_to_consents_only_with_unsubscribe_and_are_counted(
    harness: Harness,
) -> None:
    harness.clock.now = datetime.now(ZONE)  # (history times are the real clock's)
    people = await _customers(harness)
    owner, sender = _parts(harness)
    assert await owner.dry_run(ADS) == {"vk": 1, "max": 1}
    await harness.store.profiles.add_tags(people["vk"], ["записан"])  # booked before
    harness.clock.now = datetime.now(ZONE)
    broadcast = await owner.create(ANY_HOUR, "dec")
    assert await owner.start("dec") == 2
    assert await sender.drain(broadcast) == 2
    assert _copies(harness, ADS.text or "") == {"vk": 1, "max": 1, "web": 0}
    sent = [r for _, r in harness.channels["max"].sent if r.text == ADS.text][0]
    assert [(b.id, b.text) for b in sent.buttons] == [("link0", "Сайт"),
                                                      (UNSUBSCRIBE_BUTTON_ID, "Отписаться")]
    harness.clock.now = datetime.now(ZONE)
    await harness.send("max", "2", ButtonEvent(UNSUBSCRIBE_BUTTON_ID, "Отписаться"))
    await harness.store.profiles.add_tags(people["max"], ["записан"])  # booked after all
    await harness.store.profiles.add_tags(people["web"], ["записан"])  # not a recipient
    assert not (await harness.store.profiles.get(people["max"])).ads_consent
    numbers = await owner.numbers("dec")
    assert numbers["max"] == {"queued": 1, "sent": 1, "replied": 1, "unsubscribed": 1,
                              "converted": 1}
    assert numbers["vk"] == {"queued": 1, "sent": 1}  # booked before it: not converted
    assert (await harness.store.broadcasts.get("dec")).status == "done"  # type: ignore[union-attr]
    with pytest.raises(BroadcastError):
        await owner.start("dec")


async def test_one_copy_through_a_crash_after_the_claim(harness: Harness) -> None:
    people = await _customers(harness)
    owner, sender = _parts(harness)
    await owner.create(NOTICE, "n1")
    await owner.start("n1")
    # a process claimed vk's copy, wrote its outbox entry and died before sending it
    entry = harness.store.outbox.prepare(people["vk"], "vk", "1", reply_of(NOTICE))
    assert await harness.store.broadcasts.claim("n1", people["vk"], entry)
    await sender.drain("n1")
    delivery = Delivery(store=harness.store, connectors=harness.channels,
                        metrics=harness.metrics)
    assert await delivery.resend_stale(min_idle_ms=0) == 1  # the outbox sends it, once
    await sender.drain("n1")
    assert _copies(harness, NOTICE.text or "") == {"vk": 1, "max": 1, "web": 0}


async def test_one_copy_to_a_customer_merged_from_two(harness: Harness) -> None:
    people = await _customers(harness)
    owner, sender = _parts(harness)
    await owner.create(NOTICE, "n2")
    await owner.start("n2")
    entry = harness.store.outbox.prepare(people["max"], "max", "2", reply_of(NOTICE))
    await harness.store.broadcasts.claim("n2", people["max"], entry)  # max got its copy
    await harness.store.identities.merge(people["vk"], people["max"])  # then joined vk
    await sender.drain("n2")
    assert _copies(harness, NOTICE.text or "")["vk"] == 0
    assert (await harness.store.broadcasts.numbers.outcomes("n2"))[people["vk"]] == "skipped -"


async def test_pause_resume_cancel_and_quiet_hours(harness: Harness) -> None:
    await _customers(harness)
    owner, sender = _parts(harness)
    await owner.create(ADS, "a1")
    await owner.start("a1")
    await owner.pause("a1")
    assert await sender.drain("a1") == 0
    await owner.start("a1")  # resumes
    harness.clock.now = datetime(2026, 11, 23, 22, 30, tzinfo=ZONE)  # quiet hours for ads
    assert await sender.drain("a1") == 0
    assert sender.waiting_until(ADS) == datetime(2026, 11, 24, 9, 0, tzinfo=ZONE)
    await owner.create(NOTICE, "s1")
    await owner.start("s1")
    assert await sender.drain("s1") == 2  # a service notice is not held by the ads hours
    await owner.cancel("a1")
    harness.clock.now = datetime(2026, 11, 24, 10, 0, tzinfo=ZONE)
    assert await sender.drain("a1") == 0
    assert _copies(harness, ADS.text or "") == {"vk": 0, "max": 0, "web": 0}


async def test_forget_erases_the_recipient_but_keeps_the_counts(harness: Harness) -> None:
    people = await _customers(harness)
    owner, sender = _parts(harness)
    await owner.create(ADS, "f1")
    await owner.start("f1")
    await sender.drain("f1")
    await harness.send("vk", "1", TextEvent("спасибо"))
    exported = await customer_export(harness.store, people["vk"])
    assert exported["broadcasts"] == {"f1": "sent vk"}
    assert exported["profile"]["tags"] == ["vip"]
    before = await owner.numbers("f1")
    await harness.store.forget(people["vk"])
    assert people["vk"] not in await harness.store.broadcasts.numbers.outcomes("f1")
    keys = [k async for k in harness.store.redis.scan_iter(match=f"*{people['vk']}*")]
    assert keys == []
    assert await owner.numbers("f1") == before  # the aggregate stays


async def test_the_apps_tick_waits_for_a_scheduled_broadcast(harness: Harness) -> None:
    await _customers(harness)
    owner, sender = _parts(harness)
    later = NOTICE.model_copy(update={"at": harness.clock.now + timedelta(hours=1)})
    await owner.create(later, "later")
    assert await owner.start("later") == 2
    assert (await harness.store.broadcasts.get("later")).status == "scheduled"  # type: ignore[union-attr]
    assert await sender.tick() == 0
    harness.clock.advance(hours=2)
    assert await sender.tick() == 2
    assert (await harness.store.broadcasts.get("later")).status == "done"  # type: ignore[union-attr]
    assert _copies(harness, NOTICE.text or "") == {"vk": 1, "max": 1, "web": 0}


async def test_a_pause_stops_a_batch_on_its_way(harness: Harness,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    await _customers(harness)
    owner, sender = _parts(harness)
    monkeypatch.setattr(broadcast_send, "PARALLEL", 1)  # one copy at a time ...
    monkeypatch.setattr(broadcast_send, "RECHECK", 1)  # ... each looking at the status first
    everyone = NOTICE.model_copy(update={"segment": "all"})
    await owner.create(everyone, "p1")
    await owner.start("p1")
    once: list[bool] = []
    for recorder in harness.channels.values():  # the owner pauses as the first copy goes
        monkeypatch.setattr(recorder, "send", _pausing(recorder.send, owner, once))
    await sender.drain("p1")
    copies = _copies(harness, NOTICE.text or "")
    assert sum(copies.values()) == 1
    assert await harness.store.broadcasts.left("p1") == 3 - sum(copies.values())
    await owner.start("p1")  # resumed: the rest, once each
    await sender.drain("p1")
    assert _copies(harness, NOTICE.text or "") == {"vk": 1, "max": 1, "web": 1}


def _pausing(send: Callable[..., Awaitable[None]], owner: Broadcaster, once: list[bool]
             ) -> Callable[..., Awaitable[None]]:
    async def send_then_pause(*args: object, **kwargs: object) -> None:
        await send(*args, **kwargs)
        if not once:
            once.append(True)
            await owner.pause("p1")
    return send_then_pause
