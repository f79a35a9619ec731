"""Issue 16: the owner's brand for the web chat widget from ``SVYAZ_WEBCHAT_*`` settings.

A colour or avatar that cannot work is a settings error naming the setting and the form to use;
good settings reach the served ``widget.js`` (which picks readable text on the colour itself:
tests/connectors/test_webchat_widget_browser.py).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from test_app import make_settings

from bots.app import build_app
from bots.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SVYAZ_"):
            monkeypatch.delenv(name)
    (tmp_path / "flows").mkdir()
    monkeypatch.setenv("SVYAZ_FLOWS", str(tmp_path / "flows"))
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))


@pytest.mark.parametrize("color", ["blue", "#12345", "2f6fde", "#2f6fdeff", "rgb(1,2,3)"])
def test_a_colour_that_is_not_hex_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, color: str
) -> None:
    monkeypatch.setenv("SVYAZ_WEBCHAT_COLOR", color)
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    (problem,) = info.value.problems
    assert problem.startswith("SVYAZ_WEBCHAT_COLOR must be a colour like #2f6fde")
    assert repr(color) in problem


@pytest.mark.parametrize("avatar", ["logo.png", "javascript:alert(1)", "ftp://x.ru/a.png"])
def test_an_avatar_that_is_not_an_address_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, avatar: str
) -> None:
    monkeypatch.setenv("SVYAZ_WEBCHAT_AVATAR", avatar)
    with pytest.raises(ConfigError, match="SVYAZ_WEBCHAT_AVATAR must be an image address"):
        load_settings(env_file=None)


def test_a_bad_position_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVYAZ_WEBCHAT_POSITION", "top")
    with pytest.raises(ConfigError, match="SVYAZ_WEBCHAT_POSITION"):
        load_settings(env_file=None)


def test_good_brand_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"TITLE": "Клиника", "COLOR": "#FFE600", "AVATAR": "/static/a.png",
                        "GREETING": "Ответим за пару минут", "POSITION": "left"}.items():
        monkeypatch.setenv(f"SVYAZ_WEBCHAT_{name}", value)
    s = load_settings(env_file=None)
    assert (s.webchat_title, s.webchat_color, s.webchat_position) == ("Клиника", "#FFE600", "left")


async def test_the_served_widget_carries_the_brand(
    redis_url: str, bot_prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, bot_prefix, tmp_path, webchat_title="Клиника «Улыбка»",
                             webchat_color="#0f766e", webchat_avatar="https://x.ru/a.png",
                             webchat_greeting="Ответим за пару минут")
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        script = await (await client.get("/chat/widget.js")).text()
    found = re.search(r"var CONFIG = (\{.*?\});", script)
    assert found is not None
    assert json.loads(found.group(1)) == {
        "title": "Клиника «Улыбка»", "color": "#0f766e", "avatar": "https://x.ru/a.png",
        "greeting": "Ответим за пару минут", "position": "right", "maxBytes": 4096,
    }
