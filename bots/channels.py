"""The channels a configuration turns on, built, and where deep links to them point.

This module owns the step from settings to connectors: the web chat always, VK when its
token and community are set, MAX when its token is. Connectors are made before start-up
(their routes are fixed then), so they reach the running bot through the ``Edge``. It must
not start a connector or hold one: ``bots.app`` does both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pydantic import SecretStr

from bots.config import Settings, VkAccess, secret_key
from bots.linking import LinkTargets
from bots.parts import Edge
from connectors.base import Connector
from connectors.registry import INSTALLED
from flows.types import Channel


def make_connectors(settings: Settings, edge: Edge) -> dict[Channel, Connector]:
    """A connector for every channel whose settings are present; the web chat always."""
    from connectors.webchat import Brand, WebChat

    vk, max_token = settings.vk_access, settings.max_token
    on = {"vk": vk is not None, "max": max_token is not None}  # (the settings' names)
    elsewhere = [info.where for info in INSTALLED if on.get(info.name)]
    found: dict[Channel, Connector] = {
        "web": WebChat(
            secret_key=secret_key(settings), sink=edge.accept,
            history=edge.web_history, greeting=edge.web_greeting,
            allowed_origins=settings.origins,
            public_url=settings.public_url, max_connections_per_ip=settings.webchat_max_per_ip,
            elsewhere=elsewhere,
            brand=Brand(title=settings.webchat_title, color=settings.webchat_color,
                        avatar=settings.webchat_avatar, greeting=settings.webchat_greeting,
                        position=settings.webchat_position),
        ),
    }
    if vk is not None:
        found["vk"] = _vk(settings, vk, edge)
    if max_token is not None:
        found["max"] = _max(settings, max_token, edge)
    return found


def _vk(settings: Settings, access: VkAccess, edge: Edge) -> Connector:
    from connectors.vk import VkConnector

    return VkConnector(
        token=access.token.get_secret_value(), group_id=access.group_id,
        api_url=settings.vk_api_url, mode=settings.vk_mode,
        secret=settings.vk_secret.get_secret_value() if settings.vk_secret else None,
        confirmation=settings.vk_confirmation, sink=edge.accept,
        elected=True,  # bots.polling: the one process holding the poll lock polls
    )


def _max(settings: Settings, token: SecretStr, edge: Edge) -> Connector:
    from connectors.maxbot import MaxConnector

    secret = settings.max_webhook_secret
    return MaxConnector(
        token=token.get_secret_value(), api_url=settings.max_api_url,
        mode=settings.max_mode, webhook_secret=secret.get_secret_value() if secret else None,
        sink=edge.accept, bot_username=settings.max_bot_username,
        elected=True,  # bots.polling: the one process holding the poll lock polls
    )


def link_targets(
    settings: Settings, connectors: Mapping[Channel, Connector]
) -> Callable[[], LinkTargets]:
    """Where deep links point, read at each offer: the MAX bot's username comes from
    ``GET /me`` after start-up (``SVYAZ_MAX_BOT_USERNAME`` overrides it in the connector)."""
    vk_group = settings.vk_link_group
    max_connector = connectors.get("max")

    def current() -> LinkTargets:
        max_bot: str | None = getattr(max_connector, "bot_username", None)
        return LinkTargets({"max": max_bot, "vk": vk_group, "web": settings.public_url})

    return current
