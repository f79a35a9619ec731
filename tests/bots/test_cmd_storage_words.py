"""``svyaz export``, ``forget`` and ``backup`` in the owner's words, on the data they name.

Run from the wrong folder they used to start an embedded Redis in a fresh empty ``./data`` and
answer «exported 0 messages» or «no customer» — an owner answering a customer's 152-FZ request
would believe there was nothing. Now they say which data they read and refuse a data folder
that does not exist (creating nothing), in Russian unless ``SVYAZ_LANG=en``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.cli import main


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder where the bot never ran: the data folder it names does not exist."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SVYAZ_REDIS_URL", raising=False)
    monkeypatch.delenv("SVYAZ_LANG", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")  # a server's English locale changes nothing
    data = tmp_path / "data"
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(data))
    return data


@pytest.mark.parametrize("argv", [["export"], ["export", "--customer", "vk:1"],
                                  ["forget", "--yes", "vk:1"], ["backup", "copy.rdb"]])
def test_a_data_folder_that_does_not_exist_is_said_and_never_created(
    nowhere: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"svyaz {argv[0]}: нет папки данных {nowhere}: бот здесь не "
                          "запускался;"), err
    assert not nowhere.exists()


def test_export_says_which_data_it_read_and_how_much(
    nowhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere.mkdir()  # (a bot's folder, empty)
    assert main(["export"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"данные: {nowhere} (бот 'main')", "выгружено сообщений: 0"]
    assert main(["forget", "vk:404"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "svyaz forget: нет клиента 'vk:404': напишите его номер или аккаунт (vk:123, max:456, "
        "sms:+79161234567)")


