"""How MAX is built from the bot's settings (``connectors.channel.Setup``): on when the bot's
token is set (``SVYAZ_MAX_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import urlsplit

from flows.messages import Msg, msg

if TYPE_CHECKING:
    from pydantic import SecretStr

    from connectors.base import Connector
    from connectors.channel import Wiring


class MaxSettings(Protocol):
    """The settings MAX reads (``bots.config.Settings``)."""

    @property
    def max_token(self) -> SecretStr | None: ...
    @property
    def max_mode(self) -> Literal["webhook", "polling"]: ...
    @property
    def max_webhook_secret(self) -> SecretStr | None: ...
    @property
    def max_api_url(self) -> str: ...
    @property
    def max_bot_username(self) -> str | None: ...
    @property
    def owner_max_chat(self) -> str | None: ...


def enabled(settings: MaxSettings) -> bool:
    return settings.max_token is not None


def problems(s: MaxSettings) -> list[Msg]:
    """What is wrong with the MAX settings, one sentence each (never a secret)."""
    found: list[Msg] = []
    if enabled(s) and s.max_mode == "webhook" and s.max_webhook_secret is None:
        found.append(msg("settings.max_secret_needed"))
    if s.max_webhook_secret is not None and not enabled(s):
        found.append(msg("settings.max_secret_alone"))
    if s.owner_max_chat and not enabled(s):
        found.append(msg("settings.max_owner_alone"))
    if not _is_http_url(s.max_api_url):
        found.append(msg("settings.url", name="SVYAZ_MAX_API_URL", value=repr(s.max_api_url)))
    return found


def connect(settings: MaxSettings, wiring: Wiring) -> Connector:
    from connectors.maxbot import MaxConnector  # (maxapi: only when MAX is on)

    token, secret = settings.max_token, settings.max_webhook_secret
    if token is None:
        raise ValueError("MAX is off: SVYAZ_MAX_TOKEN is not set")
    return MaxConnector(
        token=token.get_secret_value(), api_url=settings.max_api_url,
        mode=settings.max_mode, webhook_secret=secret.get_secret_value() if secret else None,
        sink=wiring.sink, bot_username=settings.max_bot_username,
        elected=True,  # bots.polling: the one process holding the poll lock polls
        read_file=wiring.read_file,
    )


def link_target(settings: MaxSettings, connector: Connector | None) -> str | None:
    """The bot's username: from ``GET /me`` after start-up (``SVYAZ_MAX_BOT_USERNAME``
    overrides it in the connector), read at each offer; with no connector (a command such as
    ``svyaz import --invite``), ``SVYAZ_MAX_BOT_USERNAME`` when MAX is on."""
    if connector is None:
        return settings.max_bot_username if enabled(settings) else None
    username: str | None = getattr(connector, "bot_username", None)
    return username


def owner_chat(settings: MaxSettings) -> str | None:
    return settings.owner_max_chat or None


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
