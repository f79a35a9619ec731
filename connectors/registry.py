"""The installed channels: the one list of them (``connectors.channel``).

A new channel is a connector package with a ``channel`` module exporting ``CHANNEL``, named
here once. Nothing else in svyaz spells a channel's name.
"""

from __future__ import annotations

from connectors.channel import Registry
from connectors.email.channel import CHANNEL as EMAIL
from connectors.maxbot.channel import CHANNEL as MAX
from connectors.sms.channel import CHANNEL as SMS
from connectors.vk.channel import CHANNEL as VK
from connectors.webchat.channel import CHANNEL as WEB

# The order link offers list them; the send-only ones (SMS, e-mail) carry notices only.
INSTALLED = Registry((VK, MAX, WEB, SMS, EMAIL))
