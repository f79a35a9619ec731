"""connectors.email.sender against a real SMTP server on loopback (tests/fakes/smtp.py)."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from connectors.email import (
    EmailError,
    EmailSender,
    EmailSent,
    EmailSettings,
    EmailSettingsError,
    build_message,
)
from connectors.email.address import parse_mailbox
from connectors.email.sender import Step, outcome_of
from tests.fakes.smtp import (
    HOST,
    SmtpCa,
    SmtpFake,
    smtp_ca_fixture,  # noqa: F401 - provides smtp_ca
    start_smtp,
)

FROM = "Салон «Ромашка» <noreply@romashka.ru>"
USER, PASSWORD = "notices@romashka.ru", "s3cr:et/p@ss word"
TO = "ivan.petrov@example.ru"
TEXT = "Здравствуйте!\nВаша запись <завтра> в 10:00 & не позже.\nОтменить: https://romashka.ru/c?a=1&b=2"
NOW = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)


def url(fake: SmtpFake, *, scheme: str = "smtp", login: bool = True) -> str:
    auth = "notices%40romashka.ru:s3cr%3Aet%2Fp%40ss%20word@" if login else ""
    return f"{scheme}://{auth}{HOST}:{fake.port}"


def sender_for(address: str, *, ca: SmtpCa | None = None, send_timeout: float = 10.0,
               connect_timeout: float = 5.0) -> EmailSender:
    return EmailSender(EmailSettings.from_url(
        address, mail_from=FROM,
        ca_file=ca.ca_file if ca else None, send_timeout=send_timeout,
        connect_timeout=connect_timeout))


def notice(*, to: str = TO, unsubscribe: str | None = None) -> EmailMessage:
    return build_message(to=to, subject="Напоминание о записи", text=TEXT, notice_id="n-1",
                         mail_from=parse_mailbox(FROM), now=NOW, unsubscribe_url=unsubscribe)


@pytest.fixture
async def smtp() -> AsyncIterator[list[SmtpFake]]:
    """The servers a test starts (with ``started``), stopped after it."""
    fakes: list[SmtpFake] = []
    yield fakes
    for fake in fakes:
        await fake.stop()


async def started(smtp: list[SmtpFake], **options: object) -> SmtpFake:
    fake = await start_smtp(**options)  # type: ignore[arg-type]
    smtp.append(fake)
    return fake


# ----------------------------------------------------------------------------- delivered


async def test_a_notice_arrives_with_both_parts_and_its_headers(smtp: list[SmtpFake]) -> None:
    fake = await started(smtp, tls="plain")
    result = await sender_for(url(fake, login=False)).send(
        notice(unsubscribe="https://romashka.ru/unsubscribe?t=abc"))
    assert result == EmailSent("sent", 250, "2.0.0 Ok: queued as FAKE1")
    [got] = fake.received
    assert (got.mail_from, got.rcpt_tos, got.login) == ("noreply@romashka.ru", (TO,), None)
    message = got.message()
    assert str(message["From"]) == "Салон «Ромашка» <noreply@romashka.ru>"
    assert str(message["To"]) == TO
    assert str(message["Subject"]) == "Напоминание о записи"
    assert message["Date"].datetime == NOW
    assert message["Message-ID"] == notice()["Message-ID"]
    assert message["List-Unsubscribe"] == "<https://romashka.ru/unsubscribe?t=abc>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == TEXT
    body = html.get_content()
    assert "&lt;завтра&gt; в 10:00 &amp; не позже.<br>" in body
    assert '<a href="https://romashka.ru/c?a=1&amp;b=2">' in body
    assert "<завтра>" not in body


async def test_no_unsubscribe_header_unless_asked(smtp: list[SmtpFake]) -> None:
    fake = await started(smtp, tls="plain")
    assert (await sender_for(url(fake, login=False)).send(notice())).outcome == "sent"
    message = fake.received[0].message()
    assert "List-Unsubscribe" not in message
    assert "List-Unsubscribe-Post" not in message


async def test_auth_over_starttls(smtp: list[SmtpFake], smtp_ca: SmtpCa) -> None:
    fake = await started(smtp, tls="starttls", certificate=smtp_ca.server_context(),
                         credentials=(USER, PASSWORD))
    result = await sender_for(url(fake), ca=smtp_ca).send(notice())
    assert result.outcome == "sent"
    assert fake.logins == [(USER, True)]
    assert [(got.login, got.encrypted) for got in fake.received] == [(USER, True)]


async def test_a_plain_relay_gets_starttls_when_it_offers_it(
        smtp: list[SmtpFake], smtp_ca: SmtpCa) -> None:
    fake = await started(smtp, tls="starttls", certificate=smtp_ca.server_context())
    assert (await sender_for(url(fake, login=False), ca=smtp_ca).send(notice())).outcome == "sent"
    assert [got.encrypted for got in fake.received] == [True]


async def test_implicit_tls_smtps(smtp: list[SmtpFake], smtp_ca: SmtpCa) -> None:
    fake = await started(smtp, tls="implicit", certificate=smtp_ca.server_context(),
                         credentials=(USER, PASSWORD))
    result = await sender_for(url(fake, scheme="smtps"), ca=smtp_ca).send(notice())
    assert result.outcome == "sent"
    assert fake.logins == [(USER, True)]
    assert [got.encrypted for got in fake.received] == [True]


# ----------------------------------------------------------------------------- not sent


async def test_a_certificate_nobody_vouched_for_is_refused_by_default(
        smtp: list[SmtpFake], smtp_ca: SmtpCa) -> None:
    for tls, scheme in (("starttls", "smtp"), ("implicit", "smtps")):
        fake = await started(smtp, tls=tls, certificate=smtp_ca.server_context(),
                             credentials=(USER, PASSWORD))
        result = await sender_for(url(fake, scheme=scheme)).send(notice())  # system CAs only
        assert result.outcome == "unavailable", tls
        assert "CERTIFICATE_VERIFY_FAILED" in result.detail, tls
        assert (fake.logins, fake.received) == ([], []), tls


async def test_no_password_in_clear_when_starttls_is_not_offered(smtp: list[SmtpFake]) -> None:
    fake = await started(smtp, tls="plain", credentials=(USER, PASSWORD))
    result = await sender_for(url(fake)).send(notice())
    assert result.outcome == "misconfigured"
    assert "STARTTLS" in result.detail
    assert fake.logins == []
    assert fake.received == []


async def test_a_wrong_password_is_misconfigured(smtp: list[SmtpFake], smtp_ca: SmtpCa) -> None:
    fake = await started(smtp, tls="starttls", certificate=smtp_ca.server_context(),
                         credentials=(USER, "another"))
    result = await sender_for(url(fake), ca=smtp_ca).send(notice())
    assert (result.outcome, result.code) == ("misconfigured", 535)
    assert not result.retry_later
    assert fake.received == []


async def test_550_for_the_recipient_is_refused(smtp: list[SmtpFake]) -> None:
    fake = await started(smtp, tls="plain", answers={
        "RCPT": f"550 5.1.1 <{TO}>: Recipient address rejected: User unknown"})
    result = await sender_for(url(fake, login=False)).send(notice())
    assert (result.outcome, result.code, result.retry_later) == ("refused", 550, False)
    assert TO not in result.detail
    assert "…@example.ru" in result.detail


async def test_554_relay_denied_for_the_message_is_refused(smtp: list[SmtpFake]) -> None:
    fake = await started(smtp, tls="plain", answers={"DATA": "554 5.7.1 Relay access denied"})
    result = await sender_for(url(fake, login=False)).send(notice())
    assert (result.outcome, result.code) == ("refused", 554)


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA"])
async def test_451_is_unavailable(smtp: list[SmtpFake], command: str) -> None:
    fake = await started(smtp, tls="plain", answers={command: "451 4.3.0 Try again later"})
    result = await sender_for(url(fake, login=False)).send(notice())
    assert (result.outcome, result.code, result.retry_later) == ("unavailable", 451, True)


async def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind((HOST, 0))
        port = bound.getsockname()[1]
        result = await sender_for(f"smtp://{HOST}:{port}").send(notice())
    assert result.outcome == "unavailable"
    assert result.retry_later


async def test_a_server_that_never_greets_times_out_on_connect() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(silent, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        loop = asyncio.get_running_loop()
        started_at = loop.time()
        result = await sender_for(f"smtp://{HOST}:{port}", connect_timeout=0.3).send(notice())
        assert result.outcome == "unavailable"
        assert loop.time() - started_at < 3
    finally:
        server.close()
        await server.wait_closed()


async def test_a_connection_dropped_after_data_is_unknown(smtp: list[SmtpFake]) -> None:
    fake = await started(smtp, tls="plain", after_data="drop")
    result = await sender_for(url(fake, login=False)).send(notice())
    assert result.outcome == "unknown"
    assert not result.retry_later


async def test_no_answer_after_data_times_out_as_unknown(smtp: list[SmtpFake]) -> None:
    fake = await started(smtp, tls="plain", after_data="hang")
    result = await sender_for(url(fake, login=False), send_timeout=0.5).send(notice())
    assert result.outcome == "unknown"


# ----------------------------------------------------------------------------- logs


async def test_logs_hold_neither_password_nor_address_nor_body(
        smtp: list[SmtpFake], smtp_ca: SmtpCa, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good = await started(smtp, tls="starttls", certificate=smtp_ca.server_context(),
                         credentials=(USER, PASSWORD))
    wrong = await started(smtp, tls="starttls", certificate=smtp_ca.server_context(),
                          credentials=(USER, "another"))
    refusing = await started(smtp, tls="plain", answers={"RCPT": f"550 5.1.1 <{TO}> unknown"})
    outcomes = [(await sender_for(address, ca=smtp_ca).send(notice())).outcome
                for address in (url(good), url(wrong), url(refusing, login=False))]
    assert outcomes == ["sent", "misconfigured", "refused"]
    ours = [record for record in caplog.records if not record.name.startswith("mail.log")]
    assert [r.name for r in ours].count("svyaz.connectors.email") == 3
    text = "\n".join(f"{record.getMessage()} {record.args}" for record in ours)
    secrets = [PASSWORD, "s3cr%3Aet", base64.b64encode(PASSWORD.encode()).decode(),
               base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()]
    assert not [secret for secret in secrets if secret in text]
    assert "ivan.petrov" not in text
    assert "Здравствуйте" not in text
    assert "@example.ru" in text  # the domain, and nothing more of the address


# ----------------------------------------------------------------------------- the decision


@pytest.mark.parametrize(("error", "step", "outcome"), [
    (aiosmtplib.SMTPConnectError("refused"), "connect", "unavailable"),
    (aiosmtplib.SMTPConnectTimeoutError("slow"), "connect", "unavailable"),
    (ssl.SSLCertVerificationError("bad certificate"), "connect", "unavailable"),
    (aiosmtplib.SMTPConnectResponseError(554, "no service"), "connect", "misconfigured"),
    (aiosmtplib.SMTPConnectResponseError(421, "busy"), "connect", "unavailable"),
    (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), "login", "misconfigured"),
    (aiosmtplib.SMTPAuthenticationError(454, "try later"), "login", "unavailable"),
    (aiosmtplib.SMTPException("AUTH not supported"), "login", "misconfigured"),
    (aiosmtplib.SMTPServerDisconnected("gone"), "login", "unavailable"),
    (aiosmtplib.SMTPSenderRefused(553, "not yours", "a@b.ru"), "envelope", "refused"),
    (aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@b.ru"), "envelope", "refused"),
    (aiosmtplib.SMTPRecipientRefused(452, "full", "a@b.ru"), "envelope", "unavailable"),
    (aiosmtplib.SMTPServerDisconnected("gone"), "envelope", "unavailable"),
    (TimeoutError(), "envelope", "unavailable"),
    (aiosmtplib.SMTPDataError(552, "too big"), "data", "refused"),
    (aiosmtplib.SMTPDataError(451, "later"), "data", "unavailable"),
    (aiosmtplib.SMTPServerDisconnected("gone"), "data", "unknown"),
    (aiosmtplib.SMTPReadTimeoutError("slow"), "data", "unknown"),
    (TimeoutError(), "data", "unknown"),
    (ConnectionResetError(), "data", "unknown"),
])
def test_outcome_of(error: BaseException, step: Step, outcome: str) -> None:
    assert outcome_of(error, step).outcome == outcome


@pytest.mark.parametrize(("header", "value"), [
    ("Cc", "other@example.ru"), ("Bcc", "other@example.ru"), ("To", f"{TO}, other@example.ru")])
async def test_a_message_must_have_one_recipient(header: str, value: str) -> None:
    message = notice()
    del message[header]
    message[header] = value
    with pytest.raises(EmailError, match="one From and one To"):
        await sender_for("smtp://127.0.0.1:9").send(message)


def test_a_ca_file_that_cannot_be_read_is_a_settings_error(tmp_path: Path) -> None:
    for path, says in ((tmp_path / "missing.pem", "No such file"),
                       (tmp_path / "garbage.pem", "")):
        if path.name == "garbage.pem":
            path.write_text("not a certificate")
        settings = EmailSettings.from_url("smtp://h", mail_from="a@b.ru", ca_file=path)
        with pytest.raises(EmailSettingsError, match=f"^SVYAZ_SMTP_CA_FILE: .*{says}"):
            EmailSender(settings)
