"""svyaz check speaks Russian to the owner (English only with SVYAZ_LANG=en, never from the
server's locale), and reads the conversation tests of the folder too."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bots.cli import main
from bots.flowsource import FlowSource
from flows import convtest, loader

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def english_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SVYAZ_LANG", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(EXAMPLES, folder)
    booking = folder / "booking.yaml"
    text = booking.read_text(encoding="utf-8").replace("    save: service\n", "\tsave: service\n")
    booking.write_text(text, encoding="utf-8")
    return folder


@pytest.mark.usefixtures("english_server")
def test_russian_whatever_the_locale(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = broken(tmp_path)
    code, out, _ = run(capsys, "check", str(folder))
    assert code == 1
    assert out.splitlines() == [
        f"{folder / 'booking.yaml'}:25:1: ошибка: в строке знак табуляции: YAML понимает "
        "отступы только из пробелов; замените табуляцию пробелами",
        f"{folder}: ошибок: 1, предупреждений: 0",
    ]


@pytest.mark.usefixtures("english_server")
def test_the_examples_are_fine_in_russian(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(EXAMPLES))
    assert (code, out) == (0, f"{EXAMPLES}: всё в порядке, сценариев: 6, предупреждений: 0\n")


def test_english_on_request(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVYAZ_LANG", "en")
    folder = broken(tmp_path)
    code, out, _ = run(capsys, "check", str(folder))
    assert code == 1
    assert ":25:1: error: a tab character: YAML indents with spaces only" in out
    assert out.splitlines()[-1] == f"{folder}: 1 error(s), 0 warning(s)"


@pytest.mark.usefixtures("english_server")
def test_check_reads_the_conversation_tests(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(EXAMPLES, folder)
    test = folder / "booking.test.yaml"
    text = test.read_text(encoding="utf-8")
    assert "      - press: Анна\n" in text
    test.write_text(text.replace("      - press: Анна\n", "      - press: Анн\n", 1),
                    encoding="utf-8")
    code, out, _ = run(capsys, "check", str(folder))
    assert code == 1
    line = text.splitlines().index("      - press: Анна") + 1
    assert out.splitlines()[0] == (
        f"{test}:{line}:16: ошибка: тест нажимает кнопку 'Анн', которой бот не предлагал; "
        "может быть, 'Анна'?; кнопки: Анна, Ольга, Любой мастер")
    assert out.splitlines()[-1] == f"{folder}: ошибок: 1, предупреждений: 0"
    (result, *_) = convtest.run_folder(folder, loader.load(folder))
    assert not result.ok
    assert "тест нажимает кнопку 'Анн'" in result.diff  # svyaz test says the same


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_link_channel_to_a_send_only_channel_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, channel: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SVYAZ_LANG", raising=False)
    folder = tmp_path / "flows"
    shutil.copytree(EXAMPLES, folder)
    start = folder / "start.yaml"
    text = start.read_text(encoding="utf-8")
    line = text[:text.index("    link_channel: any\n")].count("\n") + 1
    start.write_text(text.replace("    link_channel: any\n", f"    link_channel: {channel}\n"),
                     encoding="utf-8")
    code, out, _ = run(capsys, "check", str(folder))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{start}:{line}:19: ошибка: шаг 'other_channel': '{channel}' только доставляет "
        "уведомления: клиент не может продолжить там разговор; напишите один из: max, vk, web "
        "или any")
    with pytest.raises(loader.FlowLoadError):  # the server refuses them too
        FlowSource(folder, timezone="Europe/Moscow").load()


@pytest.mark.usefixtures("english_server")
@pytest.mark.parametrize(("command", "words"), [
    ("check", "проверить сценарии и тесты разговоров в папке"),
    ("chat", "начать с этого сценария"),
    ("test", "запустить тесты разговоров"),
    ("graph", "имя сценария"),
    ("reminders", "показать запланированные напоминания"),
    ("run", "Запустить svyaz: HTTP-сервер"),
    ("sms-url", "адрес, который дать SMS-сервису"),
    ("export", "Записать переписку всех клиентов"), ("forget", "действительно удалить"),
    ("backup", "куда записать копию"), ("restore", "копия, сделанная svyaz backup"),
])
def test_help_of_the_owners_commands_is_russian(
    capsys: pytest.CaptureFixture[str], command: str, words: str
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert out.startswith(f"использование: svyaz {command} ")
    assert words in out
    assert "-h, --help  " in out
    assert "показать эту справку и выйти" in out
    assert "usage" not in out
    assert "show this help" not in out


@pytest.mark.usefixtures("english_server")
def test_every_command_of_the_list_is_described_in_russian(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`svyaz --help` listed run, export, forget, backup, restore, sms-url and operator in
    English between the Russian ones."""
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out.split("команды:")[1]
    described = re.findall(r"^ {4}([a-z-]+)(?: +(.+))?\n(?: {14}(.+))?", listing, re.MULTILINE)
    assert len(described) == 18  # (every command: a new one is added here too)
    english = [name for name, same_line, next_line in described
               if not re.search("[а-яё]", same_line or next_line)]
    assert english == []


def test_help_in_english_on_request(capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVYAZ_LANG", "en")
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: svyaz check ")
    assert "validate a folder of flows and its conversation tests" in out


@pytest.mark.usefixtures("english_server")
def test_svyaz_test_reports_in_russian(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(EXAMPLES, folder)
    for old in folder.glob("*.test.yaml"):
        old.unlink()
    (folder / "x.test.yaml").write_text(
        "tests:\n  - name: запись\n    turns:\n      - say: записаться\n"
        "        bot: Какой вы хотите цвет?\n        at: booking/servise\n", encoding="utf-8")
    code, out, _ = run(capsys, "test", str(folder))
    assert code == 1
    assert out.splitlines() == [
        f"НЕ ПРОЙДЕН {folder / 'x.test.yaml'}: запись",
        "    x.test.yaml:4: запись",
        "    ход 1 (клиент пишет \"записаться\"):",
        "      не совпадают ответы бота:",
        "        ожидалось:",
        "          - \"Какой вы хотите цвет?\"",
        "        получено:",
        "          + \"Какую услугу вы хотите?\" [Стрижка] [Окрашивание] [Укладка]",
        "      место в разговоре: ожидалось booking/servise, получено booking/service",
        f"{folder}: пройдено: 0, не пройдено: 1",
    ]
