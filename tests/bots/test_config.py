"""bots.config: defaults, one clear sentence per problem, the generated secret key."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from bots.channels import enabled
from bots.config import ConfigError, Settings, load_settings, secret_key


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SVYAZ_"):
            monkeypatch.delenv(name)
    (tmp_path / "flows").mkdir()
    monkeypatch.setenv("SVYAZ_FLOWS", str(tmp_path / "flows"))
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))


def test_defaults_match_the_architecture_table() -> None:
    s = load_settings(env_file=None)
    assert (s.host, s.port, s.timezone, s.bot) == ("127.0.0.1", 8080, "Europe/Moscow", "main")
    assert s.public_url == "http://127.0.0.1:8080"
    assert s.redis_url is None
    assert s.vk_mode == "longpoll"
    assert s.max_mode == "polling"
    assert s.vk_api_url == "https://api.vk.ru/method"
    assert s.max_api_url == "https://platform-api2.max.ru"
    assert [info.name for info in enabled(s)] == ["web"]
    assert s.api_token is None
    assert s.reminder_grace == 3600
    assert s.origins == ()  # the web chat's default: the public URL and localhost, any port


def test_env_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("SVYAZ_PORT=9099\nSVYAZ_MAX_TOKEN=abc\nSVYAZ_WEBCHAT_ORIGINS=https://a.ru, "
                   "https://b.ru\n", encoding="utf-8")
    s = load_settings(env_file=env)
    assert s.port == 9099
    assert [info.name for info in enabled(s)] == ["max", "web"]
    assert s.origins == ("https://a.ru", "https://b.ru")


def test_vk_callback_without_confirmation_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVYAZ_VK_TOKEN", "tok")
    monkeypatch.setenv("SVYAZ_VK_GROUP_ID", "42")
    monkeypatch.setenv("SVYAZ_VK_MODE", "callback")
    monkeypatch.setenv("SVYAZ_VK_SECRET", "s")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert len(info.value.problems) == 1
    assert "SVYAZ_VK_CONFIRMATION" in info.value.problems[0]


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVYAZ_VK_TOKEN", "supersecret-vk-token")
    monkeypatch.setenv("SVYAZ_MAX_TOKEN", "supersecret-max-token")
    monkeypatch.setenv("SVYAZ_MAX_MODE", "webhook")
    monkeypatch.setenv("SVYAZ_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    text = str(info.value)
    assert len(info.value.problems) == 3
    assert "SVYAZ_VK_GROUP_ID" in text
    assert "SVYAZ_MAX_WEBHOOK_SECRET" in text
    assert "Mars/Olympus" in text
    assert "supersecret" not in text


def test_type_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVYAZ_PORT", "eighty")
    monkeypatch.setenv("SVYAZ_VK_MODE", "push")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert [p.split(":")[0] for p in info.value.problems] == ["SVYAZ_PORT", "SVYAZ_VK_MODE"]


def test_missing_flows_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SVYAZ_FLOWS", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="SVYAZ_FLOWS"):
        load_settings(env_file=None)


def test_tokens_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVYAZ_MAX_TOKEN", "supersecret-max-token")
    s = load_settings(env_file=None)
    assert "supersecret" not in repr(s)
    assert "supersecret" not in str(s.model_dump())


def test_secret_key_generated_once(tmp_path: Path) -> None:
    s = Settings(_env_file=None, data_dir=tmp_path / "d")  # type: ignore[call-arg]
    first = secret_key(s)
    assert len(first) == 64
    assert secret_key(s) == first
    assert (tmp_path / "d" / "secret_key").stat().st_mode & 0o777 == 0o600
    explicit = Settings(_env_file=None, secret_key="k" * 40)  # type: ignore[call-arg]
    assert secret_key(explicit) == b"k" * 40


def test_public_url_follows_the_port_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVYAZ_PORT", "9001")
    assert load_settings(env_file=None).public_url == "http://127.0.0.1:9001"
    monkeypatch.setenv("SVYAZ_HOST", "0.0.0.0")
    assert load_settings(env_file=None).public_url == "http://127.0.0.1:9001"
    monkeypatch.setenv("SVYAZ_PUBLIC_URL", "https://bot.example.ru")
    s = load_settings(env_file=None)
    assert s.public_url == "https://bot.example.ru"


def _key_in(folder: str, start: Any, out: Any) -> None:
    start.wait()
    out.put(secret_key(Settings(_env_file=None, data_dir=Path(folder))))  # type: ignore[call-arg]


def test_processes_starting_together_read_one_whole_key(tmp_path: Path) -> None:
    # Two bots started at once on one data folder used to read the file between its creation
    # and its write: an empty key, and a crash at start-up (CI, 2026-11).
    ctx = multiprocessing.get_context("fork")
    for round_ in range(15):
        folder = str(tmp_path / f"d{round_}")
        start, out = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_key_in, args=(folder, start, out)) for _ in range(6)]
        for proc in procs:
            proc.start()
        keys = [out.get(timeout=10) for _ in procs]
        for proc in procs:
            proc.join(10)
        assert len(set(keys)) == 1, keys
        assert len(keys[0]) == 64
        assert [p.name for p in Path(folder).iterdir()] == ["secret_key"]


def test_short_keys_are_refused_with_what_to_do(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "secret_key").write_text("abc\n")
    with pytest.raises(ConfigError, match=r"3 characters.*Delete the file"):
        secret_key(Settings(_env_file=None, data_dir=folder))  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="SVYAZ_SECRET_KEY must be at least 16"):
        load_settings(env_file=None, secret_key="short")
