"""connectors.email.settings: the SMTP URL, the sender's address, the password kept secret."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from connectors.email import EmailSettings, EmailSettingsError

FROM = "Салон «Ромашка» <noreply@romashka.ru>"
PASSWORD = "p@ss:w/rd?#1"
ENCODED = "p%40ss%3Aw%2Frd%3F%231"


def parse(url: str) -> EmailSettings:
    return EmailSettings.from_url(url, mail_from=FROM)


@pytest.mark.parametrize(("url", "host", "port", "tls", "username"), [
    ("smtp://user:pw@smtp.example.ru:587", "smtp.example.ru", 587, "starttls", "user"),
    ("smtps://user:pw@smtp.example.ru:465", "smtp.example.ru", 465, "implicit", "user"),
    ("smtp://relay.local:25", "relay.local", 25, "starttls", None),
    ("SMTP://relay.local:2525/", "relay.local", 2525, "starttls", None),
    ("smtp://user:pw@smtp.example.ru", "smtp.example.ru", 587, "starttls", "user"),
    ("smtp://relay.local", "relay.local", 25, "starttls", None),
    ("smtps://user:pw@smtp.example.ru", "smtp.example.ru", 465, "implicit", "user"),
    ("smtp://[::1]:25", "::1", 25, "starttls", None),
    ("smtp://no%40tices%3Ax:p%20w@h:587", "h", 587, "starttls", "no@tices:x"),
])
def test_the_three_forms_and_their_default_ports(
        url: str, host: str, port: int, tls: str, username: str | None) -> None:
    settings = parse(url)
    assert (settings.host, settings.port, settings.tls, settings.username) == (
        host, port, tls, username)
    assert (settings.password is None) == (username is None)


def test_user_and_password_are_percent_decoded() -> None:
    settings = parse(f"smtp://notices%40romashka.ru:{ENCODED}@smtp.example.ru:587")
    assert settings.username == "notices@romashka.ru"
    assert settings.password is not None
    assert settings.password.get_secret_value() == PASSWORD


@pytest.mark.parametrize(("url", "says"), [
    ("http://user:pw@h:587", "smtp:// or smtps://"),
    ("user:pw@h:587", "smtp:// or smtps://"),
    ("smtp:///", "host name is missing"),
    ("smtp://user:pw@:587", "host name is missing"),
    ("smtp://h:0", "port must be a number"),
    ("smtp://h:99999", "port must be a number"),
    ("smtp://h:smtp", "port must be a number"),
    ("smtp://user@h:587", "needs a password"),
    ("smtp://:pw@h:587", "user name before ':' is empty"),
    ("smtp://user:@h:587", "password after ':' is empty"),
    ("smtp://h:25/inbox", "nothing may follow host:port"),
    ("smtp://h:25?starttls=no", "nothing may follow host:port"),
    ("smtp://user:pa/ss@h:587", "nothing may follow host:port"),
    ("smtp://user:pa#ss@h:587", "nothing may follow host:port"),
    ("", "smtp:// or smtps://"),
])
def test_anything_else_is_a_clear_error(url: str, says: str) -> None:
    with pytest.raises(EmailSettingsError) as caught:
        parse(url)
    message = str(caught.value)
    assert message.startswith("SVYAZ_SMTP_URL: ")
    assert says in message
    assert "smtp://user:password@host:587" in message  # the forms that work
    assert "pa/ss" not in message
    assert "pa#ss" not in message
    assert "pw" not in message


@pytest.mark.parametrize("mail_from", [
    "", "not an address", "a@b.ru, c@d.ru", "a@b.ru\r\nBcc: c@d.ru", "Имя <иван@пример.рф>",
    "a@localhost",
])
def test_mail_from_must_be_one_plain_address(mail_from: str) -> None:
    with pytest.raises(EmailSettingsError, match="^SVYAZ_MAIL_FROM: "):
        EmailSettings.from_url("smtp://h:25", mail_from=mail_from)


def test_mail_from_keeps_its_name_and_an_ascii_domain() -> None:
    settings = EmailSettings.from_url("smtp://h:25", mail_from="Салон <info@Ромашка.рф>")
    assert settings.mail_from.display_name == "Салон"
    assert settings.mail_from.addr_spec == "info@xn--80aa3agjl3d.xn--p1ai"


def test_the_password_is_in_no_repr_str_or_log(caplog: pytest.LogCaptureFixture) -> None:
    settings = parse(f"smtp://user:{ENCODED}@smtp.example.ru:587")
    logging.getLogger("svyaz.test").warning("settings %s %r", settings, settings)
    shown = [repr(settings), str(settings), f"{settings}", caplog.text, str(settings.password)]
    assert not [text for text in shown if PASSWORD in text or ENCODED in text]
    assert "**********" in repr(settings)


def test_from_env() -> None:
    assert EmailSettings.from_env({}) is None
    assert EmailSettings.from_env({"SVYAZ_SMTP_URL": "  "}) is None
    with pytest.raises(EmailSettingsError, match="SVYAZ_MAIL_FROM is needed"):
        EmailSettings.from_env({"SVYAZ_SMTP_URL": "smtp://h:25"})
    settings = EmailSettings.from_env({"SVYAZ_SMTP_URL": "smtps://u:p@h", "SVYAZ_MAIL_FROM": FROM,
                                       "SVYAZ_SMTP_CA_FILE": "/etc/svyaz/ca.pem"})
    assert settings is not None
    assert (settings.port, settings.ca_file) == (465, Path("/etc/svyaz/ca.pem"))
    default = EmailSettings.from_env({"SVYAZ_SMTP_URL": "smtp://h", "SVYAZ_MAIL_FROM": FROM})
    assert default is not None
    assert default.ca_file is None


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(EmailSettingsError, match="timeouts"):
        EmailSettings.from_url("smtp://h", mail_from=FROM, send_timeout=0)
