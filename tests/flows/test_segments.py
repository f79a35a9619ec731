"""``flows.segments``: who is in a segment, which account a message takes, and what
``svyaz check`` says about ``_segments.yaml``."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from textwrap import dedent

from flows.segments import Facts, Segment, read, tally

DAY = 86_400.0
NOW = 1_000 * DAY


def _facts(customer: str = "c", *accounts: tuple[str, float], **kw: object) -> Facts:
    return Facts(customer, tuple(accounts), **kw)  # type: ignore[arg-type]


def test_every_key_given_must_hold() -> None:
    segment = Segment(channel=["max", "vk"], consent="ads", tags=["vip"], without_tags="ушёл",
                      profile=["phone"], active_within="90d")
    fits = _facts("c", ("max:1", NOW - 10 * DAY), ads=True, tags=frozenset({"vip", "x"}),
                  fields=frozenset({"phone", "name"}))
    assert segment.matches(fits, NOW)
    assert not segment.matches(_facts("c", ("max:1", NOW), tags=frozenset({"vip"}),
                                      fields=frozenset({"phone"})), NOW)  # no ads consent
    assert not segment.matches(replace(fits, tags=frozenset()), NOW)
    gone = replace(fits, tags=frozenset({"vip", "ушёл"}))
    assert not segment.matches(gone, NOW)
    old = _facts("c", ("max:1", NOW - 91 * DAY), ads=True, tags=frozenset({"vip"}),
                 fields=frozenset({"phone"}))
    assert not segment.matches(old, NOW)
    web_only = _facts("c", ("web:s", NOW), ads=True, tags=frozenset({"vip"}),
                      fields=frozenset({"phone"}))
    assert not segment.matches(web_only, NOW)  # no account in the segment's channels


def test_the_message_takes_the_latest_account_in_the_segments_channels() -> None:
    facts = _facts("c", ("web:s", NOW), ("vk:7", NOW - DAY), ("max:1", NOW - 2 * DAY))
    assert Segment().route(facts) == "web:s"
    assert Segment(channel=["max", "vk"]).route(facts) == "vk:7"
    assert Segment(channel="max").route(facts) == "max:1"


def test_tally_counts_each_customer_once_per_segment_in_its_channel() -> None:
    segments = {"all": Segment(), "ads": Segment(consent="ads")}
    batch = [_facts("a", ("max:1", NOW), ("vk:1", NOW - 1), ads=True),
             _facts("b", ("vk:2", NOW)), _facts("c", ("web:3", NOW), ads=True)]
    counts: dict[str, Counter[str]] = {}
    tally(segments, batch, NOW, counts)
    assert counts == {"all": Counter(max=1, vk=1, web=1), "ads": Counter(max=1, web=1)}


def test_check_reports_the_file_with_lines(tmp_path: Path) -> None:
    (tmp_path / "_segments.yaml").write_text(dedent("""\
        segments:
          a:
            channel: [max, telegram]
            tags: [vip]
          b:
            active_within: вчера
            colour: red
    """), encoding="utf-8")
    _, problems = read(tmp_path, channels=["max", "vk", "web"], tags={"подписчик"})
    said = sorted(f"{p.line} {p.severity} {p.in_lang('en').message}" for p in problems)
    assert any(s.startswith("6 error") and "вчера" in s for s in said), said
    assert any(s.startswith("7 error") and "colour" in s for s in said), said
    (tmp_path / "_segments.yaml").write_text(dedent("""\
        segments:
          a:
            channel: [max, telegram]
            tags: [vip]
    """), encoding="utf-8")
    found, problems = read(tmp_path, channels=["max", "vk", "web"], tags={"подписчик"})
    assert set(found) == {"a"}
    said = sorted(f"{p.line} {p.severity} {p.in_lang('en').message}" for p in problems)
    assert said == [
        "3 error segment 'a': the bot has no channel 'telegram'; channels: max, vk, web",
        "4 warning segment 'a': no flow sets the tag 'vip' (a step with 'tag: vip'); only "
        "imported customers may have it",
    ]


def test_no_file_no_segments(tmp_path: Path) -> None:
    assert read(tmp_path) == ({}, [])


def test_reached_and_not_reached_ask_the_steps_the_customer_reached() -> None:
    segment = Segment(reached=["offers", "booking.day"], not_reached="booking.booked")
    at_day = _facts("c", ("max:1", NOW), reached=frozenset({"offers", "booking", "booking.day"}))
    assert segment.matches(at_day, NOW)
    assert not segment.matches(replace(at_day, reached=at_day.reached | {"booking.booked"}),
                               NOW)
    assert not segment.matches(replace(at_day, reached=frozenset({"booking.day"})), NOW)
    assert Segment(not_reached="booking").matches(_facts("c", ("max:1", NOW)), NOW)


def test_check_refuses_a_flow_or_step_that_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "_segments.yaml").write_text(dedent("""\
        segments:
          a:
            reached: [booking.booked, bookin]
            not_reached: booking.bokked
    """), encoding="utf-8")
    steps = {"booking", "booking.day", "booking.booked", "offers"}
    _, problems = read(tmp_path, steps=steps)
    said = sorted(f"{p.line}:{p.column} {p.in_lang('ru').message}" for p in problems)
    assert said[0] == "3:31 сегмент 'a': 'bookin': сценария 'bookin' нет; может быть, " \
        "'booking'?; сценарии: booking, offers"
    assert said[1] == "4:18 сегмент 'a': 'booking.bokked': в сценарии 'booking' нет шага " \
        "'bokked'; может быть, 'booked'?; шаги: booked, day"
    assert len(said) == 2
    assert read(tmp_path)[1] == []  # (without the flows: only the shape is checked)
    (tmp_path / "_segments.yaml").write_text("segments:\n  b:\n    reached: booking/booked\n",
                                             encoding="utf-8")
    [problem] = read(tmp_path, steps=steps)[1]
    assert "сценарий.шаг, например booking.booked" in problem.in_lang("ru").message
