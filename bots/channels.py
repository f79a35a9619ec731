"""The channels a configuration turns on, built, and where deep links to them point.

This module owns the step from settings to connectors, asking each installed channel's
``setup`` (``connectors.channel.Setup``): the web chat always, VK when its token and community
are set, MAX when its token is. Connectors are made before start-up (their routes are fixed
then), so they reach the running bot through the ``Edge``. It must not start a connector or
hold one (``bots.app`` does both), nor name a channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bots.config import Settings, secret_key
from bots.linking import LinkTargets
from bots.parts import Edge
from connectors.base import Connector
from connectors.channel import ChannelInfo, Registry, Wiring
from connectors.registry import INSTALLED
from flows.types import Channel


def enabled(settings: Settings, registry: Registry = INSTALLED) -> list[ChannelInfo]:
    """The installed channels whose settings are present (the web chat always)."""
    return [info for info in registry if info.setup is not None and info.setup.enabled(settings)]


def make_connectors(
    settings: Settings, edge: Edge, registry: Registry = INSTALLED
) -> dict[Channel, Connector]:
    """A connector for every installed channel whose settings are present."""
    on = enabled(settings, registry)
    wiring = Wiring(sink=edge.accept, secret_key=secret_key(settings),
                    history=edge.web_history, greeting=edge.web_greeting,
                    quiet=edge.web_quiet, settled=edge.web_settled,
                    elsewhere=tuple(info.where for info in on if not info.relayed),
                    read_file=edge.read_file)
    return {info.name: info.setup.connect(settings, wiring)
            for info in on if info.setup is not None}


def link_targets(
    settings: Settings, connectors: Mapping[Channel, Connector], registry: Registry = INSTALLED,
) -> Callable[[], LinkTargets]:
    """Where deep links point, read at each offer (the MAX bot's username comes from
    ``GET /me`` after start-up)."""

    def current() -> LinkTargets:
        return LinkTargets({info.name: info.setup.link_target(settings, connectors.get(info.name))
                            for info in registry if info.setup is not None})

    return current


def owner_chats(settings: Settings, registry: Registry = INSTALLED) -> dict[Channel, str]:
    """The owner's own chats that hear about hand-offs, by channel."""
    chats = {info.name: info.setup.owner_chat(settings)
             for info in registry if info.setup is not None}
    return {name: chat for name, chat in chats.items() if chat}


def relayed(connectors: Mapping[Channel, Connector]) -> list[Channel]:
    """The channels whose connector holds sockets in one process (the web chat)."""
    return [name for name in connectors if (info := INSTALLED.get(name)) and info.relayed]
