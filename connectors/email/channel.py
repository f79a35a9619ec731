"""E-mail's descriptor (``connectors.channel``): a send-only channel for critical notices."""

from __future__ import annotations

from connectors.channel import Capabilities, ChannelInfo

CHANNEL = ChannelInfo(
    name="email",
    title="электронная почта",
    where="по электронной почте",
    came_from="из письма",
    continue_label="",  # never offered: no deep link, nothing to continue in
    aliases=(),
    capabilities=Capabilities(receive=False, buttons=False, links=True, send_only=True),
    address="email",  # the customer's e-mail address, given with consent
)
