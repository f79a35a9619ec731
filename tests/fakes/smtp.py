"""A real SMTP server on loopback for the e-mail channel's tests (aiosmtpd, on the test's loop).

``start_smtp`` starts one on a free port of 127.0.0.1 with the test's choices: plain,
STARTTLS or implicit TLS (a certificate from a ``trustme`` test CA), AUTH with one user name
and password, scripted answers to ``MAIL``/``RCPT``/``DATA``, or no answer after the message
(``after_data="hang"``/``"drop"``). It keeps what arrived (``received``) and every login
with whether the connection was encrypted at that moment (``logins``).

AUTH is accepted whether or not the connection is encrypted: the server does not protect a
client that sends its password in clear, so a test can see that svyaz never does.
Use the ``smtp_ca`` fixture for the CA and ``start_smtp`` inside the test; ``stop`` it after.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
Tls = Literal["plain", "starttls", "implicit"]
AfterData = Literal["answer", "hang", "drop"]


@dataclass(frozen=True)
class Received:
    """One message the server took: the envelope, the raw bytes, TLS and login at the time."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    encrypted: bool
    login: str | None

    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.content)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpFake:
    """The server's script and what it saw; ``answers`` maps a command to a reply line."""

    tls: Tls
    credentials: tuple[str, str] | None = None
    answers: dict[str, str] = field(default_factory=dict)
    after_data: AfterData = "answer"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    # ----------------------------------------------------------- aiosmtpd's handler hooks

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if "MAIL" in self.answers:
            return self.answers["MAIL"]
        envelope.mail_from = address
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if "RCPT" in self.answers:
            return self.answers["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if "DATA" in self.answers:
            return self.answers["DATA"]
        if self.after_data == "hang":
            await self._release.wait()
        elif self.after_data == "drop":
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
        assert isinstance(envelope.content, bytes)
        assert envelope.mail_from is not None
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                      envelope.content, _encrypted(server), login))
        return "250 2.0.0 Ok: queued as FAKE1"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, _encrypted(server)))
        ok = (login, password) == self.credentials
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    # ----------------------------------------------------------- life cycle

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def _encrypted(server: SMTP) -> bool:
    return server.transport is not None and \
        server.transport.get_extra_info("ssl_object") is not None


async def start_smtp(*, tls: Tls = "plain", certificate: ssl.SSLContext | None = None,
                     credentials: tuple[str, str] | None = None,
                     answers: dict[str, str] | None = None,
                     after_data: AfterData = "answer") -> SmtpFake:
    """A started server; ``certificate`` (``server_context``) is needed for TLS modes."""
    fake = SmtpFake(tls, credentials, dict(answers or {}), after_data)
    if tls != "plain" and certificate is None:
        raise ValueError("a TLS mode needs a certificate")
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(
            fake, hostname="fake.smtp.test", loop=loop,
            tls_context=certificate if tls == "starttls" else None,
            authenticator=fake.authenticate if credentials else None,
            auth_require_tls=False,  # see the module docstring; tests check `login`
        )

    fake._server = await loop.create_server(
        protocol, HOST, 0, ssl=certificate if tls == "implicit" else None)
    fake.port = fake._server.sockets[0].getsockname()[1]
    return fake


@dataclass(frozen=True)
class SmtpCa:
    """A test CA: its PEM file for the client, and a server context for 127.0.0.1."""

    ca_file: Path
    authority: trustme.CA

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.authority.issue_cert(HOST, "localhost").configure_cert(context)
        return context


@pytest.fixture(name="smtp_ca", scope="session")
def smtp_ca_fixture(tmp_path_factory: pytest.TempPathFactory) -> SmtpCa:
    """A session's test CA; import ``smtp_ca_fixture`` into a test module to use ``smtp_ca``."""
    authority = trustme.CA()
    ca_file = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return SmtpCa(ca_file, authority)
