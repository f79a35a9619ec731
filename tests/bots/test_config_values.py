"""bots.config_values: a value of the wrong form is said in the owner's language, naming the
setting, the value and what it must be."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bots.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SVYAZ_"):
            monkeypatch.delenv(name)
    (tmp_path / "flows").mkdir()
    monkeypatch.setenv("SVYAZ_FLOWS", str(tmp_path / "flows"))


@pytest.mark.parametrize(("name", "value", "ru", "en"), [
    ("PORT", "70000", "SVYAZ_PORT: нужно не больше 65535, а задано '70000'.",
     "SVYAZ_PORT: must be at most 65535, got '70000'."),
    ("SMS_DAILY_LIMIT", "-1", "SVYAZ_SMS_DAILY_LIMIT: нужно не меньше 0, а задано '-1'.",
     "SVYAZ_SMS_DAILY_LIMIT: must be at least 0, got '-1'."),
    ("HTTP_IDLE_TIMEOUT", "0", "SVYAZ_HTTP_IDLE_TIMEOUT: нужно больше 0, а задано '0'.",
     "SVYAZ_HTTP_IDLE_TIMEOUT: must be greater than 0, got '0'."),
    ("REMINDER_GRACE", "час", "SVYAZ_REMINDER_GRACE: нужно число, а задано 'час'.",
     "SVYAZ_REMINDER_GRACE: must be a number, got 'час'."),
    ("WEBCHAT_TITLE", "Я" * 61, f"SVYAZ_WEBCHAT_TITLE: не длиннее 60 символов, а задано "
     f"'{'Я' * 61}'.", f"SVYAZ_WEBCHAT_TITLE: at most 60 characters, got '{'Я' * 61}'."),
    ("BOT", "my bot", "SVYAZ_BOT: значение 'my bot' не подходит (должно подходить под "
     "^[A-Za-z0-9_-]{1,32}$).", "SVYAZ_BOT: 'my bot' does not match ^[A-Za-z0-9_-]{1,32}$."),
    ("WEBCHAT_POSITION", "top", "SVYAZ_WEBCHAT_POSITION: можно только 'right', 'left', а "
     "задано 'top'.", "SVYAZ_WEBCHAT_POSITION: must be one of 'right', 'left', got 'top'."),
])
def test_a_value_of_the_wrong_form(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, ru: str, en: str
) -> None:
    monkeypatch.setenv(f"SVYAZ_{name}", value)
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert info.value.lines("ru") == [ru]
    assert info.value.lines("en") == [en]
    assert info.value.problems == (en,)  # the exception's own text (logs) stays English
