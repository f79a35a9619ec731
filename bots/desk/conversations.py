"""The desk's conversation list and thread, as data for the pages: pure functions.

The list puts open hand-offs first (the longest waiting first), then the most recently
active; it filters by channel and by state and finds a customer by name or phone. The thread
shows each message with its channel and time, the labels of the buttons offered, and the
operator's name on an operator's message. This module does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from bots.desk.takeover import CLAIMED, operator_of
from connectors.registry import INSTALLED
from flows.types import Attachment
from storage.desk_list import Summary
from storage.history import HistoryEntry

State = Literal["bot", "waiting", "taken"]
STATES: tuple[State, ...] = get_args(State)
STATE_NAMES: Mapping[State, str] = {"bot": "с ботом", "waiting": "ждёт человека",
                                   "taken": "у оператора"}
# How the desk names each channel: the registry's titles («ВКонтакте», «чат на сайте»); "-"
# marks history events that belong to no channel.
CHANNEL_NAMES: Mapping[str, str] = {**{info.name: info.title for info in INSTALLED}, "-": ""}
_DIGITS = re.compile(r"\D")


@dataclass(frozen=True, slots=True)
class Row:
    customer: str
    name: str | None
    phone: str | None
    channels: tuple[str, ...]
    state: State
    holder: str | None  # the operator holding it
    since: float | None  # when the open hand-off began
    last_at: float
    last_text: str
    last_in: bool  # the customer wrote last


def state_of(summary: Summary) -> State:
    stage = summary.handoff
    if stage == "taken":
        return "taken"
    return "bot" if stage is None else "waiting"


def rows_of(summaries: Iterable[Summary], since: Mapping[str, float],
            holders: Mapping[str, str]) -> list[Row]:
    rows = []
    for s in summaries:
        state = state_of(s)
        last = s.last
        rows.append(Row(
            customer=s.customer, name=s.name, phone=s.phone,
            channels=tuple(dict.fromkeys(a.partition(":")[0] for a in s.accounts)),
            state=state, holder=holders.get(s.customer),
            since=(since.get(s.customer) or (last.ts if last else None))
            if state == "waiting" else None,
            last_at=last.ts if last else 0.0, last_text=last.text if last else "",
            last_in=bool(last and last.direction == "in")))
    return rows


def matches(row: Row, query: str) -> bool:
    query = query.strip().casefold()
    if not query:
        return True
    if row.name and query in row.name.casefold():
        return True
    digits = _DIGITS.sub("", query)
    return len(digits) >= 3 and bool(row.phone) and digits in _DIGITS.sub("", row.phone or "")


def arrange(rows: Iterable[Row], *, channel: str = "", state: str = "",
            query: str = "") -> list[Row]:
    """Open hand-offs first, the longest waiting first; then the most recently active."""
    chosen = [r for r in rows if (not channel or channel in r.channels)
              and (not state or r.state == state) and matches(r, query)]
    waiting = sorted((r for r in chosen if r.state == "waiting"),
                     key=lambda r: (r.since or 0.0, r.customer))
    rest = sorted((r for r in chosen if r.state != "waiting"),
                  key=lambda r: (-r.last_at, r.customer))
    return waiting + rest


@dataclass(frozen=True, slots=True)
class Message:
    at: float
    channel: str
    kind: Literal["in", "bot", "operator", "event"]
    text: str
    buttons: tuple[str, ...]  # the labels offered (never the ids)
    operator: str | None
    note: str
    files: tuple[Attachment, ...] = ()  # what the customer sent (shown by files.html)


def thread(entries: Iterable[HistoryEntry]) -> list[Message]:
    """The history as the desk shows it: a pressed button by its label (found on the bot's
    last keyboard when the platform sent only its id), the platform's start as an event."""
    found = []
    labels: dict[str, str] = {}  # the last keyboard offered: button id -> label
    for e in entries:
        if e.direction == "out" and e.keyboard:
            labels = {b.id: b.text for b in e.keyboard}
        found.append(_message(e, labels))
    return found


def _message(e: HistoryEntry, labels: Mapping[str, str]) -> Message:
    operator = operator_of(e.note) if e.direction == "out" else None
    if e.direction == "in" and e.note.startswith("start"):
        return Message(at=e.ts, channel=e.channel, kind="event", text="", buttons=(),
                       operator=None, note=event_text(e.note))
    text = e.text
    if e.direction == "in" and e.note.startswith(_PRESSED):
        text = labels.get(e.note[len(_PRESSED):], text)
    kind: Literal["in", "bot", "operator", "event"] = (
        "in" if e.direction == "in" else "event" if e.direction == "event"
        else "operator" if operator else "bot")
    return Message(at=e.ts, channel=e.channel, kind=kind, text=text, buttons=e.buttons,
                   operator=operator, note=event_text(e.note) if kind == "event" else "",
                   files=e.attachments)


_PRESSED = "button "  # bots.events.describe's note of a pressed button
_EVENTS = (  # history notes in the desk's words (prefix -> text; the rest follows)
    (CLAIMED, "разговор взял(а) "),
    ("operator released the conversation", "разговор возвращён боту"),
    ("start (link)", "клиент пришёл по ссылке"),
    ("start", "клиент открыл чат"),
    ("reminder ", "напоминание: "),
    ("api started ", "система бизнеса запустила сценарий "),
    ("continued on ", "продолжил(а) в канале "),
)


def event_text(note: str) -> str:
    for prefix, words in _EVENTS:
        if note.startswith(prefix):
            return words + note[len(prefix):]
    return note


def waited(seconds: float) -> str:
    """A waiting time in Russian, short: «5 мин», «2 ч 10 мин», «3 дн»."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} мин"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} ч {minutes} мин" if minutes else f"{hours} ч"
    return f"{hours // 24} дн"
