"""How the web chat is built from the bot's settings (``connectors.channel.Setup``): always
on (``SVYAZ_WEBCHAT_*`` shape it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from connectors.base import Connector
    from connectors.channel import Wiring
    from flows.messages import Msg


class WebSettings(Protocol):
    """The settings the web chat reads (``bots.config.Settings``)."""

    @property
    def public_url(self) -> str: ...
    @property
    def origins(self) -> tuple[str, ...]: ...
    @property
    def webchat_max_per_ip(self) -> int: ...
    @property
    def webchat_title(self) -> str: ...
    @property
    def webchat_color(self) -> str: ...
    @property
    def webchat_avatar(self) -> str: ...
    @property
    def webchat_greeting(self) -> str: ...
    @property
    def webchat_position(self) -> Literal["right", "left"]: ...


def enabled(settings: WebSettings) -> bool:
    return True  # the web chat needs nothing: the demo runs without any setting


def problems(settings: WebSettings) -> list[Msg]:
    return []  # (the brand's colour and origins are checked where they are read)


def connect(settings: WebSettings, wiring: Wiring) -> Connector:
    from connectors.webchat import Brand, WebChat

    return WebChat(
        secret_key=wiring.secret_key, sink=wiring.sink,
        history=wiring.history, greeting=wiring.greeting, quiet=wiring.quiet,
        settled=wiring.settled,
        allowed_origins=settings.origins,
        public_url=settings.public_url, max_connections_per_ip=settings.webchat_max_per_ip,
        elsewhere=list(wiring.elsewhere),
        brand=Brand(title=settings.webchat_title, color=settings.webchat_color,
                    avatar=settings.webchat_avatar, greeting=settings.webchat_greeting,
                    position=settings.webchat_position),
    )


def link_target(settings: WebSettings, connector: Connector | None) -> str | None:
    return settings.public_url  # the demo page at the bot's address


def owner_chat(settings: WebSettings) -> str | None:
    return None  # the owner reads the web chat in the desk
