"""A broadcast's conversions by step (``converts_at: ads.vip``): a recipient counts when a turn
of theirs enters the step after their copy reached them — not for having entered it before —
and a step that does not exist is refused in Russian. Segments by the steps reached
(``reached`` / ``not_reached``) choose from what the turns recorded. Real Redis, real turns."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pytest
from bots_harness import FLOWS, ZONE, Harness
from test_broadcasts import _customers, _parts

from bots.audience import SegmentFile, dry_run
from bots.broadcasts import Broadcaster, UnknownStep
from flows.broadcast import BroadcastSpec
from flows.loader import load
from flows.segments import Segment, reachable
from flows.types import TextEvent

SERVICE = BroadcastSpec(title="Акция", kind="service", segment="all", text="Акция до пятницы!",
                        converts_at="ads.vip")


async def test_a_recipient_converts_by_entering_the_step_after_the_copy(
    harness: Harness,
) -> None:
    harness.clock.now = datetime.now(ZONE)  # (history times are the real clock's)
    people = await _customers(harness)  # vk:1 and max:2 entered ads.vip (agreed), web:3 not
    assert await harness.store.reached.when(list(people.values()), "ads.vip") != [None] * 3
    owner, sender = _parts(harness)
    await owner.create(SERVICE, "s1")
    await owner.start("s1")
    assert await sender.drain("s1") == 3
    harness.clock.now = datetime.now(ZONE)
    for channel, user in (("max", "2"), ("web", "3")):  # enter ads.vip again / for once
        await harness.send(channel, user, TextEvent("рассылка"))
        await harness.send(channel, user, TextEvent("да"))
    numbers = await owner.numbers("s1")
    assert numbers["max"].get("converted") == 1
    assert numbers["web"].get("converted") == 1
    assert "converted" not in numbers["vk"]  # reached it before the broadcast only
    assert (await owner.numbers("s1"))["max"]["converted"] == 1  # counted once


async def test_a_step_that_does_not_exist_is_refused_in_russian(harness: Harness) -> None:
    steps = reachable(load(str(FLOWS), timezone="Europe/Moscow"))  # tests/bots/flows
    owner = Broadcaster(store=harness.store, segments=lambda: {"all": Segment()},
                        steps=lambda: steps)
    with pytest.raises(UnknownStep) as refused:
        await owner.create(SERVICE.model_copy(update={"converts_at": "ads.vipp"}))
    assert str(refused.value) == (
        "converts_at (шаг, на котором получатель считается «записался после рассылки»): "
        "'ads.vipp': в сценарии 'ads' нет шага 'vipp'; может быть, 'vip'?; шаги: agree, bye, "
        "vip")
    with pytest.raises(UnknownStep, match="сценария 'booking' нет"):
        await owner.create(SERVICE.model_copy(update={"converts_at": "booking.booked"}))
    assert await owner.create(SERVICE, "ok") == "ok"
    assert "ads.vip" in owner.steps()


async def test_segments_choose_by_the_steps_reached(harness: Harness) -> None:
    people = await _customers(harness)
    await harness.send("web", "4", TextEvent("привет"))  # started hello, never saw ads
    segments: Mapping[str, Segment] = {
        "agreed": Segment(reached="ads.vip"),
        "refused": Segment(reached=["ads", "ads.bye"], not_reached="ads.vip"),
        "never_asked": Segment(not_reached="ads"),
        "hello": Segment(reached="hello"),
    }
    counts = await dry_run(harness.store, segments)
    assert counts["agreed"] == {"vk": 1, "max": 1}
    assert counts["refused"] == {"web": 1}
    assert counts["never_asked"] == {"web": 1}
    assert counts["hello"] == {"web": 1}
    facts = (await harness.store.audience.facts([people["vk"]]))[0]
    assert facts.reached == {"ads", "ads.agree", "ads.vip"}


def test_the_running_bot_keeps_its_segments_when_a_change_names_no_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """A typo in ``not_reached`` would let a segment take everybody: the running bot's
    reload refuses it (and logs why), as ``svyaz check`` does."""
    path = tmp_path / "_segments.yaml"
    path.write_text("segments:\n  new:\n    not_reached: ads.vip\n", encoding="utf-8")
    steps = reachable(load(str(FLOWS), timezone="Europe/Moscow"))
    named = SegmentFile(tmp_path, ["vk", "max", "web"], lambda: steps)
    assert named()["new"].not_reached == "ads.vip"
    path.write_text("segments:\n  new:\n    not_reached: ads.vipp\n", encoding="utf-8")
    os.utime(path, (1, 1))  # (another modification time, whatever the clock's resolution)
    assert named()["new"].not_reached == "ads.vip"  # the last good ones stay
    assert "в сценарии 'ads' нет шага 'vipp'" in caplog.text
