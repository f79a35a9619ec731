"""svyaz chat's own lines (prompt, notes of what the bot did, help, errors) and svyaz graph's
errors speak Russian by default, whatever the server's locale, and English with
SVYAZ_LANG=en, like svyaz check. The flow's own texts are printed as written in both."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_cmd_flows import PING_FLOW, REMINDER_FLOW

from bots.cli import main
from bots.flowchat import ChatSession, describe, run_chat
from flows import loader
from flows.types import (
    CallHttp,
    CancelReminder,
    Effect,
    Handoff,
    Ladder,
    LinkChannel,
    RecordConsent,
    ReminderPassed,
    SaveProfile,
    ScheduleReminder,
    StartEvent,
)

EXAMPLES = str(Path(__file__).resolve().parents[2] / "flows_examples")
BOOKING = ["записаться", "1", "1", "завтра", "1", "да", "Анна", "/time", "/time soon",
           "/flow nope", "/help", "/quit"]

EXPECTED = {
    "ru": [
        f"svyaz chat: {EXAMPLES}, 2026-12-23 10:00 Europe/Moscow; /help — справка",
        "  [согласие] дано (версия текста 2024-06)",
        "бот: Как вас зовут?",
        "  [профиль] name = Анна",
        "     [телефон] чтобы поделиться, напишите /phone +79991234567",
        "     [ссылка] Политика обработки данных -> https://example.ru/privacy",
        "[время] 2026-12-23 10:00 ср (Europe/Moscow)",
        "  (пишите /time +1d, +2h, +30m, +1w или /time 2026-12-24 09:00)",
        "  (нет сценария 'nope'; сценарии: booking, delivery_reminder, offers, "
        "order_confirmation, start, visit_reminder)",
        "  /phone НОМЕР            поделиться телефоном через кнопку контакта",
    ],
    "en": [
        f"svyaz chat: {EXAMPLES}, 2026-12-23 10:00 Europe/Moscow; /help for help",
        "  [consent] granted (text version 2024-06)",
        "bot: Как вас зовут?",
        "  [profile] name = Анна",
        "     [share phone] type /phone +79991234567",
        "     [link] Политика обработки данных -> https://example.ru/privacy",
        "[time] 2026-12-23 10:00 Wed (Europe/Moscow)",
        "  (use /time +1d, +2h, +30m, +1w or /time 2026-12-24 09:00)",
        "  (no flow 'nope'; flows: booking, delivery_reminder, offers, order_confirmation, "
        "start, visit_reminder)",
        "  /phone NUMBER           share a phone through the contact button",
    ],
}
ENGLISH_ONLY = ("bot:", "[consent]", "[profile]", "[time]", "[link]", "share phone", "use /time",
                "no flow", "commands:", "for help")


@pytest.fixture(params=["ru", "en"])
def lang(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Russian with no setting on a server whose locale is English; English on request."""
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    if request.param == "en":
        monkeypatch.setenv("SVYAZ_LANG", "en")
    else:
        monkeypatch.delenv("SVYAZ_LANG", raising=False)
    return str(request.param)


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lines: list[str],
        *argv: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_chat_speaks_the_owners_language(
    lang: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, BOOKING, "chat", EXAMPLES, "--now",
                       "2026-12-23 10:00")
    assert code == 0
    lines = out.splitlines()
    for expected in EXPECTED[lang]:
        assert expected in lines, (expected, out)
    if lang == "ru":
        assert not [line for line in lines if any(w in line for w in ENGLISH_ONLY)], out


def test_chat_reminder_notes(
    lang: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "visit.yaml").write_text(REMINDER_FLOW, encoding="utf-8")
    (tmp_path / "ping.yaml").write_text(PING_FLOW, encoding="utf-8")
    lines = ["завтра в 15:00", "/time", "/time 2026-12-24 14:00"]
    saved = " {'at': '2026-12-24T15:00'}"  # the reminder's variables
    code, out, _ = run(capsys, monkeypatch, lines, "chat", str(tmp_path), "--now",
                       "2026-12-23 10:00")
    assert code == 0
    expected = {
        "ru": ["  [напомнить] 'visit' в 2026-12-24 14:00 -> сценарий ping" + saved,
               "  ждёт [напомнить] 'visit' в 2026-12-24 14:00 -> сценарий ping" + saved,
               "[напоминание] 'visit' срабатывает: сценарий ping",
               "бот: Напоминаем о визите в 15:00!"],
        "en": ["  [remind] 'visit' at 2026-12-24 14:00 -> flow ping" + saved,
               "  pending [remind] 'visit' at 2026-12-24 14:00 -> flow ping" + saved,
               "[reminder] 'visit' fires: flow ping",
               "bot: Напоминаем о визите в 15:00!"],
    }[lang]
    assert [line for line in out.splitlines() if line in expected] == expected, out


def test_chat_errors(
    lang: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, monkeypatch, [], "chat", EXAMPLES, "--now", "скоро")
    assert code == 2
    assert err == {"ru": "--now: нужно время вида 2026-12-23 10:00, а не 'скоро'\n",
                   "en": "--now: expected a time like 2026-12-23 10:00, got 'скоро'\n"}[lang]
    code, _, err = run(capsys, monkeypatch, [], "chat", EXAMPLES, "--flow", "nope")
    assert code == 2
    assert err.startswith({"ru": "нет сценария 'nope'; сценарии: booking, ",
                           "en": "no flow 'nope'; flows: booking, "}[lang]), err


def test_the_prompt(lang: str) -> None:
    out = io.StringIO()
    flows = loader.load(EXAMPLES)
    session = ChatSession.start(flows, out, lang="en" if lang == "en" else "ru",
                                now=datetime(2026, 12, 23, 10, 0, tzinfo=ZoneInfo("UTC")))
    run_chat(session, io.StringIO("/quit\n"), prompt=True, first=StartEvent())
    assert out.getvalue().endswith({"ru": "клиент> ", "en": "you> "}[lang])


def test_graph_errors(
    lang: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    code, _, err = run(capsys, monkeypatch, [], "graph", "nope", "--folder", EXAMPLES)
    assert code == 2
    assert err.startswith({"ru": "нет сценария 'nope'; сценарии: booking, ",
                           "en": "no flow 'nope'; flows: booking, "}[lang]), err

    monkeypatch.setattr("bots.cmd_flows.shutil.which", lambda _: None)  # no Graphviz here
    svg = tmp_path / "booking.svg"
    code, _, err = run(capsys, monkeypatch, [], "graph", "booking", "--folder", EXAMPLES,
                       "--out", str(svg))
    assert code == 1
    assert err == {
        "ru": "программа 'dot' из Graphviz не установлена: напишите --out ФАЙЛ.mmd (Mermaid) "
              "или установите graphviz\n",
        "en": "Graphviz 'dot' is not installed; use --out FILE.mmd (Mermaid) or install "
              "graphviz\n"}[lang]
    assert not svg.exists()

    mmd = tmp_path / "booking.mmd"
    code, out, _ = run(capsys, monkeypatch, [], "graph", "booking", "--folder", EXAMPLES,
                       "--out", str(mmd))
    assert code == 0
    assert out == {"ru": f"записан файл {mmd}\n", "en": f"wrote {mmd}\n"}[lang]


def test_every_note_of_what_the_bot_did(lang: str) -> None:
    """One line per effect, in the owner's language (the flow's own words as written)."""
    at = datetime(2026, 12, 24, 7, 0, tzinfo=ZoneInfo("UTC"))
    effects: list[Effect] = [
        ScheduleReminder("k", at, "ping", critical=True,
                         ladder=Ladder(rungs=("messenger", "sms"), within=timedelta(hours=2))),
        ReminderPassed("visit-24h", at, "ping"),
        CancelReminder("k"),
        CallHttp("c1", "POST", "https://crm.example/x"),
        Handoff("Клиент просит человека"),
        LinkChannel(None),
        SaveProfile("name", "Анна"),
        RecordConsent(True, "v1", at),
    ]
    said = [describe(effect, "Europe/Moscow", "en" if lang == "en" else "ru")
            for effect in effects]
    assert said == {
        "ru": ["[напомнить] 'k' в 2026-12-24 10:00 -> сценарий ping [важное; лестница: "
               "messenger → sms пока клиент не ответит, шаг 2h]",
               "[напоминание не поставлено] 'visit-24h': его время 2026-12-24 10:00 уже прошло",
               "[отменить напоминание] 'k'",
               "[http-запрос] POST https://crm.example/x",
               "[оператор] разговор передан человеку: Клиент просит человека",
               "[предложить канал] любой другой канал",
               "[профиль] name = Анна",
               "[согласие] дано (версия текста v1)"],
        "en": ["[remind] 'k' at 2026-12-24 10:00 -> flow ping [critical; escalate: "
               "messenger → sms until answered within 2h]",
               "[reminder not set] 'visit-24h': its time 2026-12-24 10:00 has already passed",
               "[cancel reminder] 'k'",
               "[http] POST https://crm.example/x",
               "[handoff] to a human operator: Клиент просит человека",
               "[offer channel] any other channel",
               "[profile] name = Анна",
               "[consent] granted (text version v1)"],
    }[lang]
