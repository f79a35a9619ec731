"""VK's descriptor (``connectors.channel``): its name, words and deep link."""

from __future__ import annotations

from connectors.channel import Capabilities, ChannelInfo
from connectors.vk import setup
from connectors.vk.preview import preview

CHANNEL = ChannelInfo(
    name="vk",
    title="ВКонтакте",
    where="во ВКонтакте",
    came_from="из ВКонтакте",
    continue_label="Продолжить во ВКонтакте",
    aliases=("вк", "вконтакте", "контакте"),
    capabilities=Capabilities(),
    # The community's chat, opened with ``ref``: the first message carries it (see parse.py).
    link=lambda community, token: f"https://vk.me/{community}?ref=link-{token}",
    setup=setup,
    preview=preview,  # the desk's broadcast preview
)
