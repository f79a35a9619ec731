"""Issue 16: ``svyaz run`` and ``svyaz reminders`` refuse a bad setting in the owner's language.

Each case runs the real command in a process of its own, on a server whose locale is English
(``LANG=en_US.UTF-8``): the owner reads Russian, and English only with ``SVYAZ_LANG=en``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = str(ROOT / "flows_examples")
REFUSED = {"ru": "svyaz: не могу запуститься, исправьте настройки:", "en": "svyaz: cannot start:"}
BAD_PORT = {"ru": "SVYAZ_PORT: нужно целое число, а задано 'eighty'.",
            "en": "SVYAZ_PORT: must be a whole number, got 'eighty'."}

CASES = [
    ("run", {"SVYAZ_FLOWS": "nope"}, {
        "ru": "SVYAZ_FLOWS: папки 'nope' нет (укажите папку со сценариями).",
        "en": "SVYAZ_FLOWS folder 'nope' does not exist."}),
    ("run", {"SVYAZ_WEBCHAT_COLOR": "red"}, {
        "ru": "SVYAZ_WEBCHAT_COLOR должен быть цветом вида #2f6fde (# и шесть шестнадцатеричных "
              "цифр), а задан 'red'; читаемый цвет текста на нём виджет подберёт сам.",
        "en": "SVYAZ_WEBCHAT_COLOR must be a colour like #2f6fde (# and six hex digits), got "
              "'red'; the widget picks a readable text colour on it itself."}),
    ("run", {"SVYAZ_PUBLIC_URL": "shop.ru"}, {
        "ru": "SVYAZ_PUBLIC_URL должен быть адресом http(s), например https://example.ru, а "
              "задан 'shop.ru'.",
        "en": "SVYAZ_PUBLIC_URL must be an http(s) address, got 'shop.ru'."}),
    ("run", {"SVYAZ_REDIS_URL": "http://:secret@db:6379"}, {
        "ru": "SVYAZ_REDIS_URL должен начинаться с одного из redis://, rediss://, unix://, "
              "redis+sentinel://, redis+cluster://, а начинается с 'http'.",
        "en": "SVYAZ_REDIS_URL must start with one of redis://, rediss://, unix://, "
              "redis+sentinel://, redis+cluster://, not 'http'."}),
    ("reminders", {"SVYAZ_PORT": "eighty"}, BAD_PORT),
    ("reminders", {"SVYAZ_VK_MODE": "push"}, {
        "ru": "SVYAZ_VK_MODE: можно только 'callback', 'longpoll', а задано 'push'.",
        "en": "SVYAZ_VK_MODE: must be one of 'callback', 'longpoll', got 'push'."}),
    ("reminders", {"SVYAZ_MAX_TOKEN": "t", "SVYAZ_MAX_MODE": "webhook"}, {
        "ru": "SVYAZ_MAX_MODE=webhook требует SVYAZ_MAX_WEBHOOK_SECRET, иначе бот примет "
              "вебхуки не только от MAX.",
        "en": "SVYAZ_MAX_MODE=webhook needs SVYAZ_MAX_WEBHOOK_SECRET, so webhooks from anyone "
              "but MAX are refused."}),
    ("run", {"SVYAZ_SMTP_URL": "smtp://shop@mail.ru", "SVYAZ_MAIL_FROM": "shop@mail.ru"}, {
        "ru": "SVYAZ_SMTP_URL: пользователю нужен пароль: user:password@host (':' в имени "
              "пользователя пишется как %3A); пишите так: smtp://user:password@host:587, "
              "smtps://user:password@host:465 или smtp://host:25",
        "en": "SVYAZ_SMTP_URL: a user needs a password: user:password@host (':' in the user "
              "name is written %3A); expected smtp://user:password@host:587, "
              "smtps://user:password@host:465 or smtp://host:25"}),
    ("reminders", {"SVYAZ_SMTP_URL": "smtp://relay:25", "SVYAZ_MAIL_FROM": "Салон <shop>"}, {
        "ru": "SVYAZ_MAIL_FROM: нужен один адрес: name@example.ru или Имя <name@example.ru>",
        "en": "SVYAZ_MAIL_FROM: expected one address: name@example.ru or Name "
              "<name@example.ru>"}),
]


def svyaz(
    command: str, folder: Path, lang: str, *args: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SVYAZ_", "LC_"))}
    env.update({"LANG": "en_US.UTF-8", "LANGUAGE": "en", "PYTHONPATH": str(ROOT),
                "SVYAZ_FLOWS": str(folder / "flows"), "SVYAZ_DATA_DIR": str(folder / "data")})
    if lang == "en":
        env["SVYAZ_LANG"] = "en"
    env.update(settings)
    return subprocess.run([sys.executable, "-m", "bots.cli", command, *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("command", "settings", "says"), CASES,
                         ids=[f"{c}-{next(iter(s))}" for c, s, _ in CASES])
def test_a_bad_setting_is_refused_in_the_owners_language(
    tmp_path: Path, command: str, settings: dict[str, str], says: dict[str, str]
) -> None:
    (tmp_path / "flows").mkdir()
    for lang in ("ru", "en"):
        done = svyaz(command, tmp_path, lang, **settings)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [REFUSED[lang], f"  {says[lang]}"]
        assert "secret" not in done.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


@pytest.mark.parametrize(("command", "args", "code"), [
    ("invite", ("send", "invites.csv", "--by", "sms"), 2),
    ("invite", ("links", "invites.csv"), 2),
    ("sms-url", (), 1),
])
def test_the_other_commands_refuse_a_bad_setting_as_run_does(
    tmp_path: Path, command: str, args: tuple[str, ...], code: int
) -> None:
    """``svyaz invite`` and ``sms-url`` print the same header as ``svyaz run`` (they printed
    the problem alone), on stderr."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "invites.csv").write_text("customer,channel,link\n", "utf-8")
    for lang in ("ru", "en"):
        done = svyaz(command, tmp_path, lang, *args, SVYAZ_PORT="eighty")
        assert done.returncode == code, done.stderr
        assert done.stderr.splitlines() == [REFUSED[lang], f"  {BAD_PORT[lang]}"]


def test_reminders_without_a_data_folder_say_so_in_russian(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    done = svyaz("reminders", tmp_path, "ru")
    assert done.returncode == 1
    assert done.stderr.startswith(f"svyaz: нет папки данных {tmp_path / 'data'}: ")
    english = svyaz("reminders", tmp_path, "en")
    assert english.stderr.startswith(f"svyaz: no data folder {tmp_path / 'data'}: ")
    assert not (tmp_path / "data").exists()


def test_a_short_key_in_the_data_folder_is_refused_in_russian(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret_key").write_text("abc\n", "ascii")
    done = svyaz("run", tmp_path, "ru", SVYAZ_PORT="0", SVYAZ_FLOWS=EXAMPLES)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-2:] == [REFUSED["ru"], (
        f"  В файле {tmp_path / 'data' / 'secret_key'} ключ из 3 символов, меньше 16. Удалите "
        "файл — при следующем запуске появится новый ключ (открытые веб-чаты начнут новый "
        "сеанс).")]


def test_a_port_already_taken_is_said_in_russian(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = svyaz("run", tmp_path, "ru", SVYAZ_PORT=str(port), SVYAZ_HOST="127.0.0.1",
                     SVYAZ_FLOWS=EXAMPLES)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"svyaz: не могу запуститься: порт {port} на 127.0.0.1 уже занят (уже работает другой "
        "svyaz или другая программа). Остановите её или задайте другой SVYAZ_PORT.")


def test_a_start_up_error_says_its_owners_sentence() -> None:
    from bots.cmd_run import _failed
    from bots.config import Settings
    from flows.errors import SvyazError
    from flows.messages import msg

    settings = Settings(_env_file=None)
    said = SvyazError("the data folder /srv is in use", said=msg("storage.folder_in_use",
                                                                  folder="/srv"))
    assert _failed(said, settings).render("ru").startswith(
        "svyaz: не могу запуститься: папкой данных /srv уже пользуется другой процесс svyaz")
    plain = SvyazError("something else")
    assert _failed(plain, settings).render("ru") == "svyaz: не могу запуститься: something else"
    assert _failed(plain, settings).render("en") == "svyaz: something else"


def test_reminders_with_redis_down_say_so_in_russian(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    for lang, says in (("ru", "svyaz: Redis не отвечает: проверьте, что сервер из "
                              "SVYAZ_REDIS_URL запущен"),
                       ("en", "svyaz: Redis does not answer: check that the server of "
                              "SVYAZ_REDIS_URL runs")):
        done = svyaz("reminders", tmp_path, lang, SVYAZ_REDIS_URL="redis://127.0.0.1:1/0")
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(says), done.stderr
