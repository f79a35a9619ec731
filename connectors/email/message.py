"""One notice as an e-mail: ``build_message`` makes the ``EmailMessage`` the sender sends.

Owns the message's shape: a plain-text part and an HTML part rendered from the same text
(``multipart/alternative``), ``From``, ``To``, ``Subject``, ``Date``, a ``Message-ID`` derived
from the caller's stable notice id (a re-send of one notice has the same id, so the receiving
side can tell it is the same mail), and ``List-Unsubscribe`` with RFC 8058 one-click when the
caller passes an unsubscribe URL (anything not strictly transactional should).

The customer-visible text is data, never markup: the HTML part escapes all of it, turns line
breaks into ``<br>`` and only ``http``/``https`` URLs into links. No header can be injected:
the recipient must be one plain address (``connectors.email.address``), line breaks and other
control characters in the subject fold into single spaces, the unsubscribe URL must be one
line of printable ASCII. The message is written 7-bit clean (non-ASCII headers as RFC 2047
encoded words, bodies in base64 or quoted-printable), so any SMTP server takes it.

Must not: send, log, or read the clock (the caller passes ``now``).
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime
from urllib.parse import urlsplit

from connectors.email.address import EmailError, Mailbox, parse_address

_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?»”’'\""  # sentence punctuation after a URL is not part of it
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\s]+")
_HEADER_URL = re.compile(r"https://[!-~]+")  # printable ASCII, no space
MAX_HEADER_URL = 900  # a header line may be 998 octets; a URL cannot be folded
MAX_NOTICE_ID = 200
_STYLE = "font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5"


class EmailMessageError(EmailError):
    """The notice cannot become a safe e-mail (a bad subject, URL or notice id)."""


class _OneLineHeader(UnstructuredHeader, BaseHeader):
    """Written as one line however long: a URL has no place to fold, and encoding it as an
    RFC 2047 word (what the email package does to a long unbreakable value) breaks it."""

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def _policy() -> Policy:
    registry = HeaderRegistry()
    registry.map_to_type("list-unsubscribe", _OneLineHeader)
    # cte_type="7bit": bodies in base64/quoted-printable, never 8bit, which needs 8BITMIME.
    return SMTP.clone(cte_type="7bit", header_factory=registry)


POLICY = _policy()


def build_message(*, to: str, subject: str, text: str, notice_id: str, mail_from: Mailbox,
                  now: datetime, unsubscribe_url: str | None = None) -> EmailMessage:
    """The e-mail for one notice; raises ``EmailAddressError``/``EmailMessageError``.

    ``notice_id`` is the caller's stable id of the notice: the same id gives the same
    ``Message-ID``. ``now`` must be time-zone aware.
    """
    recipient = parse_address(to)
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    title = one_line(subject)
    if not title:
        raise EmailMessageError("an e-mail needs a subject")
    message = EmailMessage(policy=POLICY)
    message["From"] = mail_from.header()
    message["To"] = recipient.header()
    message["Subject"] = title
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(notice_id, mail_from.domain)
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{_unsubscribe(unsubscribe_url)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    body = _lines(text)
    message.set_content(body)
    message.add_alternative(render_html(body, title=title), subtype="html")
    return message


def message_id(notice_id: str, domain: str) -> str:
    """``<digest@domain>``: the same for every send of one notice, and no id of ours in it."""
    if not notice_id or len(notice_id) > MAX_NOTICE_ID:
        raise EmailMessageError(f"a notice id has 1 to {MAX_NOTICE_ID} characters")
    digest = hashlib.sha256(notice_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"<{digest}.svyaz@{domain}>"


def one_line(text: str) -> str:
    """``text`` with every run of line breaks, control characters and spaces as one space."""
    return _CONTROLS.sub(" ", text).strip()


def render_html(text: str, *, title: str = "") -> str:
    """The HTML part: ``text`` escaped, line breaks as ``<br>``, http(s) URLs as links."""
    lines = "<br>\n".join(_linked(line) for line in _lines(text).split("\n"))
    return (
        '<!DOCTYPE html>\n<html lang="ru">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n"
        f'<body>\n<div style="{_STYLE}">\n{lines}\n</div>\n</body>\n</html>\n'
    )


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _linked(line: str) -> str:
    """One line escaped, each http(s) URL in it an ``<a href>`` with the URL escaped too."""
    out: list[str] = []
    end = 0
    for found in _URL.finditer(line):
        url = _trimmed(found.group())
        out.append(html.escape(line[end:found.start()]))
        out.append(_link(url))
        end = found.start() + len(url)
    out.append(html.escape(line[end:]))
    return "".join(out)


def _trimmed(url: str) -> str:
    """``url`` without the sentence's punctuation or an unmatched closing bracket after it."""
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def _host_of(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _link(url: str) -> str:
    if not _host_of(url):  # the pattern already ensures the scheme is http or https
        return html.escape(url)
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>'


def _unsubscribe(url: str) -> str:
    if (len(url) > MAX_HEADER_URL or not _HEADER_URL.fullmatch(url)
            or any(char in url for char in "<>,") or not _host_of(url)):
        raise EmailMessageError(
            "the unsubscribe URL must be one https:// URL of printable ASCII (percent-encode "
            f"the rest), without < > or commas, at most {MAX_HEADER_URL} characters")
    return url

