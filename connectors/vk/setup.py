"""How VK is built from the bot's settings (``connectors.channel.Setup``): on when the
community's token and id are set (``SVYAZ_VK_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import urlsplit

from flows.messages import Msg, msg

if TYPE_CHECKING:
    from pydantic import SecretStr

    from connectors.base import Connector
    from connectors.channel import Wiring


class VkSettings(Protocol):
    """The settings VK reads (``bots.config.Settings``)."""

    @property
    def vk_token(self) -> SecretStr | None: ...
    @property
    def vk_group_id(self) -> int | None: ...
    @property
    def vk_mode(self) -> Literal["callback", "longpoll"]: ...
    @property
    def vk_secret(self) -> SecretStr | None: ...
    @property
    def vk_confirmation(self) -> str | None: ...
    @property
    def vk_api_url(self) -> str: ...
    @property
    def vk_group_screen_name(self) -> str | None: ...
    @property
    def owner_vk_peer(self) -> str | None: ...


def enabled(settings: VkSettings) -> bool:
    return settings.vk_token is not None and settings.vk_group_id is not None


def problems(s: VkSettings) -> list[Msg]:
    """What is wrong with the VK settings, one sentence each (never a secret)."""
    found: list[Msg] = []
    if (s.vk_token is None) != (s.vk_group_id is None):
        have, missing = (
            ("SVYAZ_VK_TOKEN", "SVYAZ_VK_GROUP_ID") if s.vk_token else
            ("SVYAZ_VK_GROUP_ID", "SVYAZ_VK_TOKEN")
        )
        found.append(msg("settings.vk_half", have=have, missing=missing))
    if enabled(s) and s.vk_mode == "callback":
        if not s.vk_confirmation:
            found.append(msg("settings.vk_confirmation_needed"))
        if s.vk_secret is None:
            found.append(msg("settings.vk_secret_needed"))
    if s.owner_vk_peer and not enabled(s):
        found.append(msg("settings.vk_owner_alone"))
    if not _is_http_url(s.vk_api_url):
        found.append(msg("settings.url", name="SVYAZ_VK_API_URL", value=repr(s.vk_api_url)))
    return found


def connect(settings: VkSettings, wiring: Wiring) -> Connector:
    from connectors.vk import VkConnector  # (vk_api and aiohttp: only when VK is on)

    token, group = settings.vk_token, settings.vk_group_id
    if token is None or group is None:
        raise ValueError("VK is off: SVYAZ_VK_TOKEN and SVYAZ_VK_GROUP_ID are not both set")
    return VkConnector(
        token=token.get_secret_value(), group_id=group,
        api_url=settings.vk_api_url, mode=settings.vk_mode,
        secret=settings.vk_secret.get_secret_value() if settings.vk_secret else None,
        confirmation=settings.vk_confirmation, sink=wiring.sink,
        elected=True,  # bots.polling: the one process holding the poll lock polls
        read_file=wiring.read_file,
    )


def link_target(settings: VkSettings, connector: Connector | None) -> str | None:
    """The community a ``vk.me`` deep link names: its screen name, else ``club<id>``."""
    if not enabled(settings):
        return None
    return settings.vk_group_screen_name or f"club{settings.vk_group_id}"


def owner_chat(settings: VkSettings) -> str | None:
    return settings.owner_vk_peer or None


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
