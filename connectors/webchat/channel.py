"""The web chat's descriptor (``connectors.channel``): its name, words and deep link."""

from __future__ import annotations

from connectors.channel import Capabilities, ChannelInfo
from connectors.webchat import setup
from connectors.webchat.preview import preview

CHANNEL = ChannelInfo(
    name="web",
    title="чат на сайте",
    where="в чате на сайте",
    came_from="из чата на сайте",
    continue_label="Продолжить на сайте",
    aliases=("сайте", "сайт", "чате на сайте"),
    capabilities=Capabilities(),
    # The demo page at the bot's public URL; the widget reads the token from the fragment.
    link=lambda public_url, token: f"{public_url.rstrip('/')}/chat#link={token}",
    setup=setup,
    preview=preview,  # the desk's broadcast preview
    relayed=True,  # its sockets live in one process (bots.webrelay)
)
