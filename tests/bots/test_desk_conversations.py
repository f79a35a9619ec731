"""bots.desk.conversations: the list's order, filters and search; the thread's kinds."""

from __future__ import annotations

import pytest

from bots.desk.conversations import Row, arrange, matches, rows_of, thread, waited
from flows.types import Button
from storage.desk_list import Summary
from storage.history import HistoryEntry


def _row(customer: str, state: str = "bot", *, since: float | None = None, last: float = 0.0,
         name: str | None = None, phone: str | None = None,
         channels: tuple[str, ...] = ("web",)) -> Row:
    return Row(customer=customer, name=name, phone=phone, channels=channels,
               state=state, holder=None, since=since, last_at=last,  # type: ignore[arg-type]
               last_text="", last_in=False)


def test_hand_offs_first_longest_waiting_first_then_most_recent() -> None:
    rows = [_row("a", last=50), _row("b", "waiting", since=20, last=90),
            _row("c", "taken", last=70), _row("d", "waiting", since=10, last=10),
            _row("e", last=99)]
    assert [r.customer for r in arrange(rows)] == ["d", "b", "e", "c", "a"]


def test_filters_by_channel_and_state() -> None:
    rows = [_row("a", channels=("vk", "web")), _row("b", "waiting", channels=("max",)),
            _row("c", "taken", channels=("vk",))]
    assert [r.customer for r in arrange(rows, channel="vk")] == ["a", "c"]
    assert [r.customer for r in arrange(rows, state="taken")] == ["c"]
    assert [r.customer for r in arrange(rows, channel="vk", state="waiting")] == []


@pytest.mark.parametrize(("query", "found"), [
    ("", True), ("оля", True), ("ОЛЯ", True), ("+7 916", True), ("916-123", True),
    ("12", False), ("петя", False), ("999", False),
])
def test_search_by_name_or_phone_digits(query: str, found: bool) -> None:
    assert matches(_row("a", name="Оля", phone="+79161234567"), query) is found


def test_rows_read_the_stage_the_wait_and_the_channels() -> None:
    summaries = [
        Summary("a", "waiting", HistoryEntry(30.0, "vk", "in", "ау"),
                "Оля", None, ("vk:1", "web:s", "vk:2")),
        Summary("b", "taken", None, None, None, ()),
        Summary("c", None, None, None, None, ()),
        Summary("d", "unheard", HistoryEntry(40.0, "web", "in", "?"),
                None, None, ("web:x",)),
    ]
    rows = rows_of(summaries, {"a": 12.0}, {"b": "ivan"})
    assert [(r.state, r.since, r.holder) for r in rows] == [
        ("waiting", 12.0, None), ("taken", None, "ivan"), ("bot", None, None),
        ("waiting", 40.0, None)]
    assert rows[0].channels == ("vk", "web")
    assert rows[0].last_in


def test_thread_kinds_labels_and_operator_names() -> None:
    entries = [
        HistoryEntry(0.5, "web", "in", "/start", note="start"),
        HistoryEntry(1.0, "max", "out", "Да?", keyboard=(Button("b_1", "Да"),)),
        HistoryEntry(2.0, "web", "in", "b_1", note="button b_1"),  # the id alone came in
        HistoryEntry(2.5, "web", "in", "b_9", note="button b_9"),  # no keyboard had it
        HistoryEntry(3.0, "web", "out", "Иду", note="operator:Ольга"),
        HistoryEntry(4.0, "-", "event", "", note="claimed by Ольга"),
        HistoryEntry(5.0, "-", "event", "", note="operator released the conversation"),
        HistoryEntry(6.0, "-", "event", "", note="something new"),
    ]
    got = [(m.kind, m.text, m.buttons, m.operator, m.note) for m in thread(entries)]
    assert got == [
        ("event", "", (), None, "клиент открыл чат"),
        ("bot", "Да?", ("Да",), None, ""),
        ("in", "Да", (), None, ""),
        ("in", "b_9", (), None, ""),
        ("operator", "Иду", (), "Ольга", ""),
        ("event", "", (), None, "разговор взял(а) Ольга"),
        ("event", "", (), None, "разговор возвращён боту"),
        ("event", "", (), None, "something new"),
    ]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 мин"), (59, "0 мин"), (61, "1 мин"), (3600, "1 ч"), (3660 + 600, "1 ч 11 мин"),
    (86400 * 3 + 5, "3 дн"), (-5, "0 мин"),
])
def test_waiting_time_in_russian(seconds: float, text: str) -> None:
    assert waited(seconds) == text
