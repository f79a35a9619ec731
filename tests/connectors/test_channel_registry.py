"""connectors.channel / connectors.registry: the one list of channels and what each says."""

from __future__ import annotations

import pytest

from bots.events import continue_command
from bots.linking import LinkTargets, deep_link, offered_channels
from connectors.channel import Capabilities, ChannelInfo, Registry
from connectors.registry import INSTALLED
from flows.types import LinkChannel, TextEvent


def _info(name: str, *aliases: str) -> ChannelInfo:
    return ChannelInfo(name=name, title=name, where=f"в {name}", came_from=f"из {name}",
                       continue_label=f"Продолжить в {name}", aliases=aliases,
                       capabilities=Capabilities(send_only=True))


def test_the_installed_channels_in_offer_order() -> None:
    assert INSTALLED.names() == ("vk", "max", "web", "sms", "email")
    assert [info.title for info in INSTALLED][:3] == ["ВКонтакте", "MAX", "чат на сайте"]
    send_only = [info.name for info in INSTALLED if info.capabilities.send_only]
    assert send_only == ["sms", "email"]
    assert INSTALLED.send_only() == ("sms", "email")
    assert INSTALLED.called(" ВК ") is INSTALLED["vk"]
    assert INSTALLED.called("сайте") is INSTALLED["web"]
    assert INSTALLED.called("icq") is None


def test_a_name_or_word_may_mean_one_channel_only() -> None:
    with pytest.raises(ValueError, match="taken"):
        Registry([_info("sms"), _info("sms")])
    with pytest.raises(ValueError, match="two channels"):
        Registry([_info("sms", "смс"), _info("email", "смс")])
    with pytest.raises(ValueError, match="identifier"):
        Registry([_info("s ms")])


def test_deep_links_come_from_each_channels_descriptor() -> None:
    links = LinkTargets({"max": "shop_bot", "vk": "club7", "web": "https://shop.example/"})
    assert deep_link("max", "T", links) == "https://max.ru/shop_bot?start=link-T"
    assert deep_link("vk", "T", links) == "https://vk.me/club7?ref=link-T"
    assert deep_link("web", "T", links) == "https://shop.example/chat#link=T"
    assert deep_link("sms", "T", links) is None  # send-only: no deep link
    assert deep_link("icq", "T", links) is None  # not installed
    assert _info("sms").deep_link("x", "T") is None  # no link at all: never offered


def test_an_offer_names_the_channels_with_a_target_in_registry_order() -> None:
    links = LinkTargets({"max": "shop_bot", "vk": None, "web": "https://shop.example"})
    on = {"vk", "max", "web", "sms", "email"}  # send-only ones are never offered
    assert offered_channels(LinkChannel(), "web", on, links) == ["max"]  # vk: no community
    assert offered_channels(LinkChannel(), "vk", on, links) == ["max", "web"]


@pytest.mark.parametrize(("said", "target"), [
    ("продолжить в макс", "max"), ("Продолжить во ВКонтакте!", "vk"),
    ("продолжить на сайте", "web"), ("продолжить в другом канале", None),
])
def test_continue_in_reads_the_channels_words(said: str, target: str | None) -> None:
    assert continue_command(TextEvent(said)) == LinkChannel(target=target)


def test_continue_in_an_unknown_place_is_no_command() -> None:
    assert continue_command(TextEvent("продолжить в icq")) is None


def test_send_only_accounts_are_made_of_the_profile_once_consented() -> None:
    fields = {"phone": "+79161234567", "email": "maria@example.ru", "name": "Мария"}
    assert INSTALLED.attached(fields, consented=True) == {
        "sms": "+79161234567", "email": "maria@example.ru"}
    assert INSTALLED.attached(fields, consented=False) == {}
    assert INSTALLED.attached({"phone": None, "email": "m@example.ru"}, True) == {
        "email": "m@example.ru"}
    sms = INSTALLED.sent_to("sms:+79161234567")
    assert sms is not None
    assert (sms[0].name, sms[1]) == ("sms", "+79161234567")
    assert INSTALLED.sent_to("vk:1") is None  # a messenger's account is no profile field
    assert INSTALLED.sent_to("sms:") is None
