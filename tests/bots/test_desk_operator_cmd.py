"""``svyaz operator``: add (password asked twice at a terminal, or read from standard input),
list, disable, enable, remove — in the owner's language, its ``--help`` at every level too."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from bots.cli import main
from bots.desk.passwords import _verify
from storage.desk import Operator
from storage.embedded import EmbeddedRedis
from storage.store import Store


@pytest.fixture
def env(embedded_redis: EmbeddedRedis, bot_prefix: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVYAZ_REDIS_URL", embedded_redis.url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    return embedded_redis.url, bot_prefix


def _get(env: tuple[str, str], name: str) -> Operator | None:
    async def read() -> Operator | None:
        store = Store.from_url(env[0], bot=env[1])
        try:
            return await store.desk.operators.get(name)
        finally:
            await store.close()
    return asyncio.run(read())


def test_add_reads_the_password_from_stdin_and_stores_only_its_hash(
    env: tuple[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("секретный-пароль\n"))
    assert main(["operator", "add", "Ольга", "--owner"]) == 0
    found = _get(env, "Ольга")
    assert found is not None
    assert found.role == "owner"
    assert found.password_hash.startswith("$argon2id$")
    assert "секретный" not in found.password_hash
    assert _verify(found.password_hash, "секретный-пароль")
    assert not _verify(found.password_hash, "секретный-парол")
    monkeypatch.setattr("sys.stdin", io.StringIO("другой-пароль\n"))
    assert main(["operator", "add", "Ольга"]) == 1  # taken
    assert "оператор 'Ольга' уже есть" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_at_a_terminal_the_password_is_asked_twice(
    env: tuple[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal(""))
    asked: list[str] = []
    answers = iter(["первый-пароль", "второй-пароль", "один-и-тот-же", "один-и-тот-же"])

    def getpass(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", getpass)
    assert main(["operator", "add", "ivan"]) == 1  # the two differ
    assert "пароли не совпали" in capsys.readouterr().err
    assert _get(env, "ivan") is None
    assert main(["operator", "add", "ivan"]) == 0
    assert asked == ["Пароль: ", "Ещё раз: "] * 2
    found = _get(env, "ivan")
    assert found is not None
    assert _verify(found.password_hash, "один-и-тот-же")


def test_a_short_password_or_a_bad_name_is_refused(
    env: tuple[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["operator", "add", "ivan"]) == 1
    assert "пароль должен быть не короче 8 символов" in capsys.readouterr().err
    assert _get(env, "ivan") is None
    monkeypatch.setattr("sys.stdin", io.StringIO("long-enough-1\n"))
    assert main(["operator", "add", "a b"]) == 1
    assert "'a b' не годится как имя оператора" in capsys.readouterr().err


def test_list_disable_enable_remove(
    env: tuple[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("long-enough-1\n"))
    assert main(["operator", "add", "ivan"]) == 0
    assert main(["operator", "disable", "ivan"]) == 0
    capsys.readouterr()
    assert main(["operator", "list"]) == 0
    assert capsys.readouterr().out == "ivan\tоператор\tотключён\n"
    assert main(["operator", "enable", "ivan"]) == 0
    found = _get(env, "ivan")
    assert found is not None
    assert not found.disabled
    assert main(["operator", "remove", "ivan"]) == 0
    assert _get(env, "ivan") is None
    assert main(["operator", "remove", "ivan"]) == 1


@pytest.mark.parametrize("argv", [["operator", "--help"], ["operator", "add", "--help"],
                                  ["operator", "remove", "--help"]])
def test_help_is_russian_at_every_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str],
) -> None:
    """``svyaz operator add --help`` said «usage», «positional arguments», «show this help»."""
    monkeypatch.delenv("SVYAZ_LANG", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    with pytest.raises(SystemExit):
        main(argv)
    out = capsys.readouterr().out
    assert out.startswith(f"использование: svyaz {' '.join(argv[:-1])} ")
    assert "показать эту справку и выйти" in out
    for english in ("usage", "positional arguments", "options:", "show this help", "operator ("):
        assert english not in out, out
