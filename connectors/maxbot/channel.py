"""MAX's descriptor (``connectors.channel``): its name, words and deep link."""

from __future__ import annotations

from connectors.channel import Capabilities, ChannelInfo
from connectors.maxbot import setup
from connectors.maxbot.preview import preview

CHANNEL = ChannelInfo(
    name="max",
    title="MAX",
    where="в MAX",
    came_from="из MAX",
    continue_label="Продолжить в MAX",
    aliases=("макс", "мах"),
    capabilities=Capabilities(phone_request=True),
    # The bot's chat opened with ``start``: MAX sends ``bot_started`` with the payload.
    link=lambda bot, token: f"https://max.ru/{bot}?start=link-{token}",
    setup=setup,
    preview=preview,  # the desk's broadcast preview
)
