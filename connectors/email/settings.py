"""Where the e-mail channel sends from: ``SVYAZ_SMTP_URL``, ``SVYAZ_MAIL_FROM``, the trust.

Owns the parsing of the SMTP URL into ``EmailSettings``:

- ``smtp://user:password@host:587`` — mail submission with STARTTLS, then AUTH. When the
  server does not offer STARTTLS, nothing is sent and the password never leaves this process
  (the sender answers ``misconfigured``): a server that stopped offering it, or someone in
  between who strips it, must not see the password in clear.
- ``smtps://user:password@host:465`` — implicit TLS from the first byte, then AUTH.
- ``smtp://host:25`` — no AUTH (a relay that trusts this machine): STARTTLS whenever the
  server offers it, plain SMTP when it does not (nothing secret is sent but the notice itself).

The port may be left out: 587 for ``smtp`` with a user, 25 without, 465 for ``smtps``.
The user name and password are percent-encoded in the URL (``@`` as ``%40``, ``:`` as ``%3A``,
``/`` as ``%2F``). Certificates are always verified: against the system's CAs, or only against
``SVYAZ_SMTP_CA_FILE`` when it is set (a company relay with its own CA).

The password is a ``SecretStr``: it shows as ``**********`` in a repr, a str and a log, and
leaves only through ``get_secret_value()`` in the sender. Error messages never echo the URL,
since any part of a mistyped URL may hold the password.

Must not: connect, send, or read any file (the CA file is read by the sender).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit

from pydantic import SecretStr

from connectors.email.address import EmailAddressError, Mailbox, parse_mailbox
from flows.errors import SvyazError
from flows.messages import Msg, msg

URL_SETTING, FROM_SETTING, CA_SETTING = "SVYAZ_SMTP_URL", "SVYAZ_MAIL_FROM", "SVYAZ_SMTP_CA_FILE"
CONNECT_TIMEOUT = 10.0  # seconds to reach the server and read its greeting
SEND_TIMEOUT = 60.0  # seconds for one whole send: connect, TLS, AUTH, envelope, DATA, answer
_FORMS = "smtp://user:password@host:587, smtps://user:password@host:465 or smtp://host:25"

Tls = Literal["implicit", "starttls"]


class EmailSettingsError(SvyazError):
    """An e-mail setting cannot be used; the message names the setting and the fix (English,
    for logs; ``said``, when there, in either language for the owner's start-up refusal)."""

    @classmethod
    def of(cls, said: Msg) -> EmailSettingsError:
        return cls(said.render("en"), said=said)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettings:
    """How to reach the SMTP server and whom the mail is from.

    ``tls="implicit"``: TLS from the first byte (smtps). ``tls="starttls"``: STARTTLS when
    offered; required when there is a user (see the module's docstring).
    """

    host: str
    port: int
    tls: Tls
    username: str | None = None
    password: SecretStr | None = None
    mail_from: Mailbox
    ca_file: Path | None = None
    connect_timeout: float = CONNECT_TIMEOUT
    send_timeout: float = SEND_TIMEOUT

    @classmethod
    def from_url(cls, url: str, *, mail_from: str, ca_file: str | Path | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 send_timeout: float = SEND_TIMEOUT) -> EmailSettings:
        """Settings from an SMTP URL; raises ``EmailSettingsError`` naming the problem."""
        try:
            sender = parse_mailbox(mail_from)
        except EmailAddressError as exc:
            raise EmailSettingsError.of(msg("email.mail_from", what=exc.said)) from None
        if connect_timeout <= 0 or send_timeout <= 0:
            raise EmailSettingsError("the SMTP timeouts must be positive numbers of seconds")
        parts = _split(url)
        username, password = _credentials(parts)
        tls: Tls = "implicit" if parts.scheme.lower() == "smtps" else "starttls"
        default_port = 465 if tls == "implicit" else 587 if username else 25
        return cls(host=_host(parts), port=_port(parts) or default_port, tls=tls,
                   username=username, password=password, mail_from=sender,
                   ca_file=Path(ca_file) if ca_file else None,
                   connect_timeout=connect_timeout, send_timeout=send_timeout)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EmailSettings | None:
        """Settings from ``SVYAZ_SMTP_URL`` and friends; None when the URL is unset or blank."""
        url = environ.get(URL_SETTING, "").strip()
        if not url:
            return None
        mail_from = environ.get(FROM_SETTING, "").strip()
        if not mail_from:
            raise EmailSettingsError(
                f"{URL_SETTING} is set, so {FROM_SETTING} is needed too: the address the "
                "mail is from, e.g. Салон «Ромашка» <noreply@romashka.ru>")
        return cls.from_url(url, mail_from=mail_from,
                            ca_file=environ.get(CA_SETTING, "").strip() or None)


def _problem(what: str) -> EmailSettingsError:
    """``SVYAZ_SMTP_URL``'s problem ``what`` (a key of ``flows.catalogue_settings``)."""
    return EmailSettingsError.of(msg("email.smtp_url", what=msg(what)))


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise _problem("email.url.not_url") from None
    if parts.scheme.lower() not in ("smtp", "smtps"):
        raise _problem("email.url.scheme")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _problem("email.url.tail")
    return parts


def _host(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if not host or any(char.isspace() for char in host):
        raise _problem("email.url.host")
    return host


def _port(parts: SplitResult) -> int | None:
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise _problem("email.url.port")
    return port


def _credentials(parts: SplitResult) -> tuple[str | None, SecretStr | None]:
    if parts.username is None and parts.password is None:
        return None, None
    username = unquote(parts.username or "")
    if not username:
        raise _problem("email.url.user")
    if parts.password is None:
        raise _problem("email.url.no_password")
    if not parts.password:
        raise _problem("email.url.password")
    return username, SecretStr(unquote(parts.password))
