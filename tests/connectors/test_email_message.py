"""connectors.email.message: the e-mail of one notice, its HTML escaped, no header injectable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from connectors.email import (
    EmailAddressError,
    EmailMessageError,
    Mailbox,
    build_message,
    message_id,
)
from connectors.email.address import parse_mailbox
from connectors.email.message import POLICY, render_html

SENDER = parse_mailbox("Салон «Ромашка» <noreply@romashka.ru>")
NOW = datetime(2026, 12, 4, 22, 30, tzinfo=timezone(timedelta(hours=3)))


def build(*, to: str = "ivan@example.ru", subject: str = "Напоминание", text: str = "Текст",
          notice_id: str = "notice-1", unsubscribe_url: str | None = None,
          sender: Mailbox = SENDER) -> EmailMessage:
    return build_message(to=to, subject=subject, text=text, notice_id=notice_id,
                         mail_from=sender, now=NOW, unsubscribe_url=unsubscribe_url)


def wire(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=POLICY)


def reparsed(message: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(wire(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_headers_and_both_parts() -> None:
    message = reparsed(build(text="Строка 1\nСтрока 2"))
    assert str(message["From"]) == "Салон «Ромашка» <noreply@romashka.ru>"
    assert str(message["To"]) == "ivan@example.ru"
    assert str(message["Subject"]) == "Напоминание"
    assert message["Date"] == "Fri, 04 Dec 2026 22:30:00 +0300"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain", "text/html"]
    plain, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert plain is not None
    assert html is not None
    assert plain.get_content().splitlines() == ["Строка 1", "Строка 2"]
    assert "Строка 1<br>\r\nСтрока 2" in html.get_content()  # CRLF: the wire's line ends


def test_the_message_is_7bit_clean_for_any_server() -> None:
    data = wire(build(subject="Запись «завтра»", text="Ёлка — 100 ₽ " * 200))
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_the_message_id_is_stable_per_notice_and_hides_the_id() -> None:
    first, again, other = build(), build(), build(notice_id="notice-2")
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"] == message_id("notice-1", "romashka.ru")
    assert first["Message-ID"].endswith("@romashka.ru>")
    assert "notice" not in first["Message-ID"]
    with pytest.raises(EmailMessageError):
        build(notice_id="")


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        build_message(to="a@b.ru", subject="s", text="t", notice_id="n", mail_from=SENDER,
                      now=datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    assert build_message(to="a@b.ru", subject="s", text="t", notice_id="n", mail_from=SENDER,
                         now=datetime(2026, 1, 1, tzinfo=UTC))["Date"].endswith("+0000")


def test_unsubscribe_headers_only_when_asked() -> None:
    assert "List-Unsubscribe" not in build()
    long_url = "https://romashka.ru/unsubscribe?token=" + "x" * 300
    message = reparsed(build(unsubscribe_url=long_url))
    assert message["List-Unsubscribe"] == f"<{long_url}>"  # one line, not an encoded word
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("url", [
    "http://romashka.ru/u",  # RFC 8058 one-click needs https
    "javascript:alert(1)",
    "https://romashka.ru/u>, <mailto:evil@x.ru",
    "https://romashka.ru/u\r\nBcc: evil@x.ru",
    "https://romashka.ru/u x",
    "https://romashka.ru/отписка",
    "https://",
    "https://romashka.ru/" + "x" * 1000,
])
def test_a_bad_unsubscribe_url_is_refused(url: str) -> None:
    with pytest.raises(EmailMessageError, match="unsubscribe URL"):
        build(unsubscribe_url=url)


@pytest.mark.parametrize("subject", [
    "Запись\r\nBcc: evil@x.ru", "Запись\nBcc: evil@x.ru", "Запись\rBcc: evil@x.ru",
    "Запись\u2028Bcc: evil@x.ru", "Запись\x0bBcc: evil@x.ru", "Запись\x85Bcc: evil@x.ru",
    "Запись\r\n\r\nBcc: evil@x.ru",
])
def test_line_breaks_in_the_subject_fold_into_one_line(subject: str) -> None:
    data = wire(build(subject=subject))
    headers = data.split(b"\r\n\r\n", 1)[0]
    assert not [line for line in headers.split(b"\r\n") if line.lower().startswith(b"bcc")]
    assert str(reparsed(build(subject=subject))["Subject"]) == "Запись Bcc: evil@x.ru"
    assert "Bcc" not in reparsed(build(subject=subject))


def test_an_empty_subject_is_refused() -> None:
    with pytest.raises(EmailMessageError, match="subject"):
        build(subject=" \r\n ")


@pytest.mark.parametrize("to", [
    "ivan@example.ru\r\nBcc: evil@x.ru", "ivan@example.ru\nBcc: evil@x.ru",
    "ivan@example.ru, evil@x.ru", "Иван <ivan@example.ru>", "ivan@example.ru>", "<ivan@example.ru>",
    "ivan", "ivan@", "@example.ru", "ivan@localhost", "iv an@example.ru", "ivan..p@example.ru",
    ".ivan@example.ru", "иван@example.ru", '"ivan"@example.ru', "ivan@[127.0.0.1]",
    "ivan@-example.ru", "ivan@example..ru", "ivan@example.ru.", "x" * 65 + "@example.ru",
])
def test_the_recipient_is_one_plain_address(to: str) -> None:
    with pytest.raises(EmailAddressError):
        build(to=to)


def test_an_internationalised_domain_is_sent_in_its_ascii_form() -> None:
    assert str(build(to="Ivan.Petrov+notes@Пример.РФ")["To"]) == (
        "Ivan.Petrov+notes@xn--e1afmkfd.xn--p1ai")


# ----------------------------------------------------------------------------- the HTML part


@pytest.mark.parametrize(("text", "expected"), [
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("a & b \"c\" 'd'", "a &amp; b &quot;c&quot; &#x27;d&#x27;"),
    ("строка\r\nвторая\rтретья", "строка<br>\nвторая<br>\nтретья"),
    ("{{ 7*7 }} <b>жирный</b>", "{{ 7*7 }} &lt;b&gt;жирный&lt;/b&gt;"),
    ("Ссылка: https://romashka.ru/a?b=1&c=2.",
     'Ссылка: <a href="https://romashka.ru/a?b=1&amp;c=2">https://romashka.ru/a?b=1&amp;c=2</a>.'),
    ("(см. http://romashka.ru/info)",
     '(см. <a href="http://romashka.ru/info">http://romashka.ru/info</a>)'),
    ('https://x.ru/"onmouseover="alert(1)',
     '<a href="https://x.ru/">https://x.ru/</a>&quot;onmouseover=&quot;alert(1)'),
    ("https://x.ru/<img src=x onerror=alert(1)>",
     '<a href="https://x.ru/">https://x.ru/</a>&lt;img src=x onerror=alert(1)&gt;'),
    ("javascript:alert(1) data:text/html,<b>x</b> ftp://x.ru",
     "javascript:alert(1) data:text/html,&lt;b&gt;x&lt;/b&gt; ftp://x.ru"),
    ("https:// и http://", "https:// и http://"),
])
def test_customer_text_is_data_never_markup(text: str, expected: str) -> None:
    html = render_html(text)
    body = html.split('<div style="', 1)[1].split(">", 1)[1]
    assert body == f"\n{expected}\n</div>\n</body>\n</html>\n"


def test_the_title_is_escaped_too() -> None:
    html = render_html("x", title="</title><script>")
    assert "<title>&lt;/title&gt;&lt;script&gt;</title>" in html
