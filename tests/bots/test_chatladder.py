"""svyaz chat shows a critical reminder's climb as the clock moves (issue 14): the next rung
after ``within`` without an answer, SMS waiting for the morning at night, an answer stopping
it. Nothing is sent."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

from bots.flowchat import ChatSession
from flows import loader
from flows.types import StartEvent

ZONE = ZoneInfo("Europe/Moscow")
FLOWS = {
    "menu.yaml": """
        triggers: [{command: start}]
        steps:
          m:
            say: Записали
            remind:
              flow: ping
              after: 1h
              key: visit
              critical: true
              escalate: [messenger, sms, email]
              within: 2h
            end: true
        """,
    "ping.yaml": "triggers: [{timer: true}]\nsteps:\n  p:\n    say: Напоминание!\n",
}


def chat(tmp_path: Path, at: datetime) -> tuple[ChatSession, io.StringIO]:
    for name, text in FLOWS.items():
        (tmp_path / name).write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    out = io.StringIO()
    session = ChatSession.start(loader.load(tmp_path), out, now=at)
    session.send(StartEvent())
    return session, out


def notices(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().splitlines() if line.startswith("[уведомление]")]


def test_the_climb_by_day_and_an_answer_that_stops_it(tmp_path: Path) -> None:
    session, out = chat(tmp_path, datetime(2026, 12, 4, 12, 0, tzinfo=ZONE))
    session.handle("/time +1h")
    session.handle("/time +2h")
    session.handle("ок, приду")
    assert notices(out) == [
        "[уведомление] 'visit': если клиент не ответит за 2 ч: sms, затем email",
        "[уведомление] 'visit': ответа нет — 04.12 15:00 уведомление: SMS "
        "(в чате не отправляется)",
        "[уведомление] 'visit': клиент ответил — лестница остановлена",
    ]


def test_at_night_the_sms_waits_for_the_morning(tmp_path: Path) -> None:
    session, out = chat(tmp_path, datetime(2026, 12, 4, 19, 0, tzinfo=ZONE))
    session.handle("/time 2026-12-05 12:00")
    assert notices(out)[1:] == [
        "[уведомление] 'visit': ответа нет — 05.12 09:00 уведомление: SMS "
        "(в чате не отправляется)",
        "[уведомление] 'visit': ответа нет — 05.12 11:00 уведомление: электронная почта "
        "(в чате не отправляется)",
    ]
