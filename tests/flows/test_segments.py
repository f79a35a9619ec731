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
