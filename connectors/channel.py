"""What a channel is to the rest of svyaz: one descriptor per connector package, one registry.

Each connector package exports ``CHANNEL``, a ``ChannelInfo`` (in a small ``channel`` module
of its own, importable without the platform's libraries): its name (the prefix of its
accounts, ``vk:123``), how the customer calls it, what it can do, and how to build a deep
link into it. ``connectors.registry`` lists the installed ones; ``bots`` asks that registry
instead of spelling channel names (link offers, «продолжить в …», the demo page, metrics).

Pure data and lookups: no sockets, no settings. It must not import a connector's client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from connectors.base import Connector, FileReader, InboundSink
    from connectors.webchat.frames import WebHistoryItem
    from flows.messages import Msg
    from flows.types import Reply


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can carry. A send-only channel (SMS, e-mail) takes notices only: it is
    never chosen for a live reply, nor as the channel the customer was last active in."""

    receive: bool = True  # customers write to the bot in it
    buttons: bool = True
    links: bool = True  # buttons that open a URL
    phone_request: bool = False  # a button that asks the customer's app for the phone number
    send_only: bool = False


@dataclass(frozen=True, slots=True)
class ShownButton:
    """A button as the channel shows it: its label and, for a link, where it opens."""

    text: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Shown:
    """One message as the channel shows it (``ChannelInfo.preview``): its text and its rows
    of buttons, read back from what the connector's own ``render`` would send."""

    text: str
    rows: tuple[tuple[ShownButton, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the running bot hands a connector it builds: where inbound events go, the bot's
    secret key, and for the web chat the history and greeting it replays on open and whether
    the bot answers a session now (no typing indicator during a hand-off)."""

    sink: InboundSink
    secret_key: bytes
    history: Callable[[str], Awaitable[list[WebHistoryItem] | None]]
    greeting: Callable[[], Sequence[Reply]]
    # The web chat: the bot keeps quiet in the session's dialogue now (a hand-off).
    quiet: Callable[[str], Awaitable[bool]] | None = None
    # The web chat: returns once no turn of the session's customer runs (``typing`` ends).
    settled: Callable[[str], Awaitable[None]] | None = None
    elsewhere: tuple[str, ...] = ()  # where else the customer can write («во ВКонтакте»)
    read_file: FileReader | None = None  # an operator's file, for channels that upload it


class Setup(Protocol):
    """How a channel is built from the bot's settings: its package's ``setup`` module.

    ``settings`` is the bot's settings object (``bots.config.Settings``); each ``setup``
    module names the settings it reads in a ``Protocol`` of its own."""

    def enabled(self, settings: Any) -> bool:
        """The channel's own settings are there (a token, a community id...)."""

    def problems(self, settings: Any) -> list[Msg]:
        """What is wrong with the channel's settings, one sentence each (catalogue messages,
        ``flows.catalogue_settings``), never a secret."""

    def connect(self, settings: Any, wiring: Wiring) -> Connector:
        """The connector, built (not started)."""

    def link_target(self, settings: Any, connector: Connector | None) -> str | None:
        """What this channel's deep link names (a bot, a community, a URL); None: none."""

    def owner_chat(self, settings: Any) -> str | None:
        """The owner's own chat in this channel, to hear of hand-offs; None: none."""


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One channel as the customer and the rest of svyaz know it."""

    name: str  # accounts are ``<name>:<user>``; flows say ``target: <name>``
    title: str  # «ВКонтакте»
    where: str  # «во ВКонтакте»: «Переписку можно продолжить {where}»
    came_from: str  # «из ВКонтакте»: where a link was issued, in the confirmation question
    continue_label: str  # the link offer's button: «Продолжить во ВКонтакте»
    aliases: tuple[str, ...]  # lower-case words after «продолжить в/во/на» that mean it
    capabilities: Capabilities
    # The URL that opens the channel with a link token, from the channel's link target (the
    # MAX bot's username, the VK community, the bot's public URL); None: no deep link.
    link: Callable[[str, str], str] | None = None
    # A send-only channel's account is made of this profile field (SMS: the phone), attached
    # to the customer once they consented (``Registry.attached``); None: accounts come from
    # the customer's own messages.
    address: Literal["phone", "email"] | None = None
    # How svyaz builds its connector from the settings; None: svyaz sends through it by other
    # means (SMS and e-mail: ``bots.spare``), no connector.
    setup: Setup | None = None
    # Its connector holds live sockets in one process (the web chat): a reply made in another
    # process must be relayed to it (``bots.webrelay``).
    relayed: bool = False
    # How a reply looks there: the messages the connector's own rendering makes of it, read
    # back (the desk's broadcast preview); None: no preview. Imports the connector when called.
    preview: Callable[[Reply], tuple[Shown, ...]] | None = None

    def deep_link(self, target: str | None, token: str) -> str | None:
        """The link into this channel carrying ``token``; None without a target or a link."""
        if self.link is None or not target:
            return None
        return self.link(target, token)


class Registry:
    """The installed channels, in the order they are offered."""

    __slots__ = ("_by_name", "_by_alias")

    def __init__(self, channels: Iterable[ChannelInfo]) -> None:
        self._by_name: dict[str, ChannelInfo] = {}
        self._by_alias: dict[str, ChannelInfo] = {}
        for info in channels:
            if info.name in self._by_name or not info.name.isidentifier():
                raise ValueError(f"channel name {info.name!r} is taken or not an identifier")
            self._by_name[info.name] = info
            for alias in (info.name, *info.aliases):
                if self._by_alias.setdefault(alias.lower(), info) is not info:
                    raise ValueError(f"channel alias {alias!r} means two channels")

    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def __iter__(self) -> Iterator[ChannelInfo]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> ChannelInfo:
        return self._by_name[name]

    def get(self, name: str) -> ChannelInfo | None:
        return self._by_name.get(name)

    def send_only(self) -> tuple[str, ...]:
        """The channels that carry notices only (SMS, e-mail): no dialogue there."""
        return tuple(info.name for info in self if info.capabilities.send_only)

    def attached(
        self, fields: Mapping[str, str | None], consented: bool
    ) -> dict[str, str]:
        """The send-only accounts a profile gives (``{"sms": "+7916…"}``): only once the
        customer consented, and only channels whose ``address`` field the profile has."""
        if not consented:
            return {}
        return {info.name: value for info in self
                if info.capabilities.send_only and info.address is not None
                and (value := fields.get(info.address))}

    def sent_to(self, account: str) -> tuple[ChannelInfo, str] | None:
        """``"sms:+7916…"`` -> (the SMS channel, "+7916…") for an account made of a profile
        field (``address``); None for any other account."""
        name, _, value = account.partition(":")
        info = self.get(name)
        return (info, value) if info is not None and info.address and value else None

    def called(self, words: str) -> ChannelInfo | None:
        """The channel the customer means by ``words`` («вк», «сайте»), if any."""
        return self._by_alias.get(words.strip().lower())
