"""SMS's descriptor (``connectors.channel``): a send-only channel for critical notices."""

from __future__ import annotations

from connectors.channel import Capabilities, ChannelInfo

CHANNEL = ChannelInfo(
    name="sms",
    title="SMS",
    where="по SMS",
    came_from="из SMS",
    continue_label="",  # never offered: no deep link, nothing to continue in
    aliases=(),
    capabilities=Capabilities(receive=False, buttons=False, links=False, send_only=True),
    address="phone",  # the customer's phone, given with consent
)
