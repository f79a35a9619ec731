"""Settings of a running bot: environment variables and `.env`, prefix ``SVYAZ_``.

This module owns the names, defaults and cross-checks of every setting (ARCHITECTURE.md,
"Interfaces that are fixed") and the secret key kept in the data folder. It must not start
anything, open connections or log a token: secrets are ``SecretStr`` and only ever leave
through ``get_secret_value()`` at the place that needs them.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bots.config_values import describe_value
from bots.remote import Network, parse_networks
from flows.errors import SvyazError
from flows.messages import Lang, Msg, msg
from storage.embedded import DEFAULT_MAXMEMORY

SECRET_KEY_FILE = "secret_key"
MIN_SECRET_KEY = 16  # bytes; connectors.webchat.tokens refuses shorter keys
_PREFIX = "SVYAZ_"
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")  # storage.client


class ConfigError(SvyazError):
    """Start-up refused: one sentence per problem. ``found`` holds them as catalogue messages:
    the owner reads them in the owner's language (``lines``); ``problems`` and the exception's
    text are English, for logs."""

    def __init__(self, found: Sequence[Msg]) -> None:
        self.found = tuple(found)
        self.problems = tuple(self.lines("en"))
        super().__init__("\n".join(self.problems))

    def lines(self, lang: Lang) -> list[str]:
        return [problem.render(lang) for problem in self.found]


class Settings(BaseSettings):
    """Every ``SVYAZ_*`` setting; see the table in ARCHITECTURE.md."""

    model_config = SettingsConfigDict(
        env_prefix=_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore",
        frozen=True,
    )

    flows: Path = Path("flows_examples")
    redis_url: str | None = None
    data_dir: Path = Path("data")
    # The embedded Redis's memory cap (Redis units: 256mb, 1gb; 0: none); full, it refuses
    # writes (503) and never evicts a dialogue. Not for an external Redis: set it there.
    redis_maxmemory: str = Field(default=DEFAULT_MAXMEMORY,
                                 pattern=r"(?i)^[0-9]+(b|k|kb|m|mb|g|gb)?$")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    timezone: str = "Europe/Moscow"
    bot: str = Field(default="main", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    vk_token: SecretStr | None = None
    vk_group_id: int | None = None
    vk_mode: Literal["callback", "longpoll"] = "longpoll"
    vk_secret: SecretStr | None = None
    vk_confirmation: str | None = None
    vk_api_url: str = "https://api.vk.ru/method"
    vk_group_screen_name: str | None = None
    owner_vk_peer: str | None = None

    max_token: SecretStr | None = None
    max_mode: Literal["webhook", "polling"] = "polling"
    max_webhook_secret: SecretStr | None = None
    max_api_url: str = "https://platform-api2.max.ru"
    max_bot_username: str | None = None
    owner_max_chat: str | None = None

    # The spare channels for critical notices (bots.spare; README "SMS and e-mail").
    sms_provider: Literal["smsru", "smsc"] | None = None
    sms_api_id: SecretStr | None = None
    smsc_login: str | None = None
    smsc_password: SecretStr | None = None
    sms_sender: str | None = None
    sms_api_url: str | None = None
    sms_daily_limit: int = Field(default=3, ge=0)
    sms_monthly_budget: int | None = Field(default=None, ge=0)
    smtp_url: SecretStr | None = None
    mail_from: str | None = None
    smtp_ca_file: Path | None = None

    api_token: SecretStr | None = None
    secret_key: SecretStr | None = None
    webchat_origins: Annotated[tuple[str, ...], NoDecode] = ()
    webchat_max_per_ip: int = Field(default=20, ge=1)
    # The widget's brand (README "Web chat"): header title, colour, avatar image, the line
    # under the title, and the corner it sits in; empty keeps the widget's own.
    webchat_title: str = Field(default="", max_length=60)
    webchat_color: str = ""
    webchat_avatar: str = ""
    webchat_greeting: str = Field(default="", max_length=120)
    webchat_position: Literal["right", "left"] = "right"
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    files_allow: Annotated[tuple[str, ...], NoDecode] = ()  # tests only (bots.fileguard)
    reminder_grace: float = Field(default=3600.0, ge=0)
    http_idle_timeout: float = Field(default=15.0, gt=0)
    http_body_timeout: float = Field(default=10.0, gt=0)
    owner_webhook: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _public_url_follows_the_listen_address(cls, data: object) -> object:
        """Unset ``SVYAZ_PUBLIC_URL``: where this process listens (links must work locally)."""
        if isinstance(data, dict) and not data.get("public_url"):
            host = str(data.get("host") or "127.0.0.1")
            host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            data = {**data, "public_url": f"http://{host}:{data.get('port') or 8080}"}
        return data

    @field_validator("webchat_origins", "trusted_proxies", "files_allow", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "redis_url", "vk_confirmation", "vk_group_screen_name", "owner_vk_peer",
        "max_bot_username", "owner_max_chat", "owner_webhook", "sms_provider", "smsc_login",
        "sms_sender", "sms_api_url", "mail_from", "smtp_ca_file", "sms_monthly_budget",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "vk_token", "vk_secret", "max_token", "max_webhook_secret", "api_token", "secret_key",
        "sms_api_id", "smsc_password", "smtp_url", mode="before",
    )
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    # ------------------------------------------------------------------ derived

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def origins(self) -> tuple[str, ...]:
        """Origins allowed to open the web chat, as configured. Empty means the default the
        README promises, the public URL and localhost on any port, which the web chat's
        ``OriginPolicy`` applies (a list of our own origins here would switch it off)."""
        return self.webchat_origins

    @property
    def proxies(self) -> tuple[Network, ...]:
        """Networks whose ``X-Forwarded-For`` is believed (see ``bots.remote``)."""
        return parse_networks(self.trusted_proxies)

    @property
    def files_allowed(self) -> tuple[Network, ...]:
        """Networks the file copier may fetch from although not public: tests only."""
        return parse_networks(self.files_allow)


# ---------------------------------------------------------------------- cross-checks


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def url_problem(name: str, url: str) -> Msg:
    """``name`` holds ``url``, which is not an http(s) address."""
    return msg("settings.url", name=name, value=repr(url))


def _general_problems(s: Settings) -> list[Msg]:
    found: list[Msg] = []
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        found.append(msg("settings.timezone", value=repr(s.timezone)))
    if not s.flows.is_dir():
        found.append(msg("settings.no_flows", folder=repr(str(s.flows))))
    if not is_http_url(s.public_url):
        found.append(url_problem("SVYAZ_PUBLIC_URL", s.public_url))
    scheme = (s.redis_url or "redis://").split("://", 1)[0].lower()
    if scheme not in REDIS_SCHEMES:  # (only the scheme is said: the URL may hold a password)
        found.append(msg("settings.redis_url", scheme=repr(scheme),
                         allowed=", ".join(f"{known}://" for known in REDIS_SCHEMES)))
    if s.owner_webhook and not is_http_url(s.owner_webhook):
        found.append(url_problem("SVYAZ_OWNER_WEBHOOK", s.owner_webhook))
    found.extend(_webchat_problems(s))
    if s.secret_key is not None and len(s.secret_key.get_secret_value().encode()) < MIN_SECRET_KEY:
        found.append(msg("settings.secret_short", least=MIN_SECRET_KEY))
    for name, entries in (("SVYAZ_TRUSTED_PROXIES", s.trusted_proxies),
                          ("SVYAZ_FILES_ALLOW", s.files_allow)):
        if (wrong := _first_not_a_network(entries)) is not None:
            found.append(msg("settings.network", name=name, value=repr(wrong)))
    return found


def _first_not_a_network(entries: Sequence[str]) -> str | None:
    for entry in entries:
        try:
            parse_networks([entry])
        except ValueError:
            return entry
    return None


_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def _webchat_problems(s: Settings) -> list[Msg]:
    found = [msg("settings.origin", value=repr(origin))
             for origin in s.webchat_origins if not is_http_url(origin)]
    if s.webchat_color and not _COLOR.match(s.webchat_color):
        found.append(msg("settings.color", value=repr(s.webchat_color)))
    avatar = s.webchat_avatar
    if avatar and not (is_http_url(avatar) or (avatar.startswith("/") and " " not in avatar)):
        found.append(msg("settings.avatar", value=repr(avatar)))
    return found


def problems(settings: Settings) -> list[Msg]:
    """Every missing or contradictory setting, one sentence each (empty: fine)."""
    from bots.spare import spare_problems
    from connectors.registry import INSTALLED

    channels = [problem for info in INSTALLED if info.setup is not None
                for problem in info.setup.problems(settings)]
    return [*_general_problems(settings), *channels, *spare_problems(settings)]


def _describe(error: ValidationError) -> list[Msg]:
    return [describe_value(item) for item in error.errors()]


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read and check the settings; raise ``ConfigError`` listing every problem at once."""
    try:
        settings = Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    found = problems(settings)
    if found:
        raise ConfigError(found)
    return settings


def secret_key(settings: Settings) -> bytes:
    """``SVYAZ_SECRET_KEY``, else a key generated once into the data folder and kept there.

    The file appears with its whole content or not at all (written aside, then hard-linked
    into place), so processes starting together on one data folder all read the same key.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / SECRET_KEY_FILE
    if not path.exists():
        _create_key(path)
    key = path.read_text(encoding="ascii").strip().encode()
    if len(key) < MIN_SECRET_KEY:
        raise ConfigError([msg("settings.key_file_short", path=path, length=len(key),
                                   least=MIN_SECRET_KEY)])
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: its key is the key
            os.link(aside, path)
    finally:
        aside.unlink()
