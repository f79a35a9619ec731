"""E-mail addresses as svyaz sends to them: one plain mailbox, checked before any header.

Owns the one address grammar of the e-mail channel, kept narrower than RFC 5322 on purpose:
an ASCII dot-atom local part (no quoted strings, no comments, no IP literals) at a domain of
at least two labels, which may be an internationalised one (``пример.рф``) and is kept in its
ASCII (IDNA) form. Whatever passes is safe in a header and in an SMTP command: no spaces, no
line breaks, no ``<>,;``. Also the errors of the e-mail channel.

Must not: send, log, or know where an address came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import default

from connectors.base import ChannelError
from flows.messages import Msg, msg

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_LOCAL, MAX_DOMAIN = 64, 253  # RFC 5321 4.5.3.1


class EmailError(ChannelError):
    """The e-mail channel was asked for something it cannot send (a bad address, header)."""


class EmailAddressError(EmailError):
    """Not an address the e-mail channel sends to; the message names what is wrong (English,
    for logs; ``said`` in either language, for an owner who typed it into a setting)."""

    def __init__(self, said: Msg) -> None:
        super().__init__(said.render("en"), said=said)


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One address: ``local@domain`` (domain lower-case ASCII) and an optional display name."""

    local: str
    domain: str
    display_name: str = ""

    @property
    def addr_spec(self) -> str:
        """``local@domain``, as SMTP's ``MAIL FROM``/``RCPT TO`` and a header carry it."""
        return f"{self.local}@{self.domain}"

    def header(self) -> Address:
        """The header form; a non-ASCII display name is encoded when the message is written."""
        return Address(display_name=self.display_name, username=self.local, domain=self.domain)


def parse_address(text: str) -> Mailbox:
    """``text`` (a bare ``local@domain``) as a ``Mailbox``; raises ``EmailAddressError``."""
    local, at, domain = text.strip().rpartition("@")
    if not at or not local:
        raise EmailAddressError(msg("email.address.form"))
    if len(local) > MAX_LOCAL or not _LOCAL.fullmatch(local):
        raise EmailAddressError(msg("email.address.local", most=MAX_LOCAL))
    return Mailbox(local, ascii_domain(domain))


def ascii_domain(domain: str) -> str:
    """``domain`` lower-case in its ASCII form (``пример.рф`` -> ``xn--e1afmkfd.xn--p1ai``)."""
    try:
        ascii_form = domain.lower().encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise EmailAddressError(msg("email.address.domain")) from exc
    labels = ascii_form.split(".")
    if (len(labels) < 2 or len(ascii_form) > MAX_DOMAIN
            or not all(_LABEL.fullmatch(label) for label in labels)):
        raise EmailAddressError(msg("email.address.domain"))
    return ascii_form


def parse_mailbox(text: str) -> Mailbox:
    """``name@example.ru`` or ``Салон «Ромашка» <name@example.ru>``: one mailbox, its name kept.

    Raises ``EmailAddressError`` for anything else (two addresses, a line break, no address).
    """
    if any(char in text for char in "\r\n\0"):
        raise EmailAddressError(msg("email.address.one_line"))
    header = default.header_factory("From", text)
    addresses: tuple[Address, ...] = tuple(getattr(header, "addresses", ()))
    if len(addresses) != 1 or header.defects:
        raise EmailAddressError(msg("email.address.one"))
    found = addresses[0]
    mailbox = parse_address(found.addr_spec)
    return Mailbox(mailbox.local, mailbox.domain, found.display_name)
