"""bots.channels on the registry: every channel is built, linked to and told about through
its descriptor's ``setup``, so a new channel is its own package plus one line in
``connectors.registry`` — shown here with a channel svyaz does not ship."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from bots_harness import Recorder

from bots.channels import enabled, link_targets, make_connectors, owner_chats
from bots.config import Settings, load_settings
from bots.parts import Edge
from connectors.base import Connector
from connectors.channel import Capabilities, ChannelInfo, Registry, Wiring
from connectors.registry import INSTALLED


class TeleSetup:
    """A channel's setup as a connector package would write it (its own settings read)."""

    def __init__(self) -> None:
        self.wired: list[Wiring] = []

    def enabled(self, settings: Any) -> bool:
        return bool(os.environ.get("TELE_TOKEN"))

    def problems(self, settings: Any) -> list[str]:
        return [] if os.environ.get("TELE_TOKEN", "t") else ["TELE_TOKEN is empty."]

    def connect(self, settings: Any, wiring: Wiring) -> Connector:
        self.wired.append(wiring)
        return Recorder("tele")

    def link_target(self, settings: Any, connector: Connector | None) -> str | None:
        return "tele_bot"

    def owner_chat(self, settings: Any) -> str | None:
        return os.environ.get("TELE_OWNER")


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    for name in list(os.environ):
        if name.startswith("SVYAZ_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))
    return load_settings(env_file=None)


def test_a_channel_svyaz_does_not_ship_plugs_in_through_its_descriptor(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup = TeleSetup()
    tele = ChannelInfo(name="tele", title="Теле", where="в Теле", came_from="из Теле",
                       continue_label="Продолжить в Теле", aliases=("теле",),
                       capabilities=Capabilities(), setup=setup,
                       link=lambda bot, token: f"https://tele.example/{bot}?start={token}")
    registry = Registry((*INSTALLED, tele))
    edge = Edge(clock=lambda: None)  # type: ignore[arg-type,return-value]
    assert [i.name for i in enabled(settings, registry)] == ["web"]  # no token: off
    monkeypatch.setenv("TELE_TOKEN", "secret")
    monkeypatch.setenv("TELE_OWNER", "owner-42")
    connectors = make_connectors(settings, edge, registry)
    assert sorted(connectors) == ["tele", "web"]
    assert setup.wired[0].elsewhere == ("в Теле",)  # the web chat names it too
    assert link_targets(settings, connectors, registry)().targets["tele"] == "tele_bot"
    assert owner_chats(settings, registry) == {"tele": "owner-42"}


def test_the_shipped_messengers_are_built_from_their_own_settings(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SVYAZ_VK_TOKEN", "vk-token")
    monkeypatch.setenv("SVYAZ_VK_GROUP_ID", "77")
    monkeypatch.setenv("SVYAZ_OWNER_VK_PEER", "2000000001")
    on = load_settings(env_file=None)
    assert [i.name for i in enabled(on)] == ["vk", "web"]
    assert owner_chats(on) == {"vk": "2000000001"}
    vk = INSTALLED["vk"].setup
    assert vk is not None
    assert vk.link_target(on, None) == "club77"
    monkeypatch.setenv("SVYAZ_VK_GROUP_SCREEN_NAME", "salon")
    assert vk.link_target(load_settings(env_file=None), None) == "salon"
    assert INSTALLED["sms"].setup is None  # sent through bots.spare, no connector
