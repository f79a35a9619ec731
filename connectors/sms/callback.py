"""SMS.ru's delivery-status callback: parse it, check it, answer it.

Wire (SMS.ru ``/api/callback``): SMS.ru POSTs a urlencoded form whose ``data[0]``, ``data[1]``,
… (PHP's ``data[]``) each hold one event as lines: ``sms_status\\n<sms_id>\\n<status code>\\n<unix
time>`` for a delivery status; other kinds (``test\\n<time>`` when the handler is checked,
``callcheck_status`` for call-based login) are skipped here. A ``hash`` field carries
``sha256(api_id + data[0] + data[1] + …)`` so the receiver can tell SMS.ru from a stranger
(this rule is as SMS.ru's client libraries check it; the route's own secret path guards as
well). The handler must answer the body ``100`` or SMS.ru keeps re-sending the events.

``parse`` and ``verify`` are pure; ``handler`` is a small aiohttp handler the lead mounts.

Must not: find the customer or record anything (``on_status`` does).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from connectors.sms.base import Delivery
from connectors.sms.smsru import delivery_of

log = logging.getLogger("svyaz.connectors.sms")

ANSWER = "100"
# "data[]" as PHP sends it, or indexed ("data[0]", "data[1]", …) as SMS.ru does.
_DATA_KEY = re.compile(r"data\[(\d*)\]")
MAX_ENTRIES = 1000  # one callback carries a batch; far more is not SMS.ru


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One message's new delivery state, as SMS.ru reported it."""

    sms_id: str
    delivery: Delivery
    code: int
    at: int | None  # epoch seconds, SMS.ru's clock


OnStatus = Callable[[list[StatusUpdate]], Awaitable[None]]


def entries(form: Iterable[tuple[str, str]]) -> list[str]:
    """The ``data[…]`` values of a posted form in SMS.ru's order (by index, then as sent)."""
    indexed: list[tuple[int, int, str]] = []
    for position, (key, value) in enumerate(form):
        if match := _DATA_KEY.fullmatch(key):
            index = int(match[1]) if match[1] else position
            indexed.append((index, position, value))
    return [value for _, _, value in sorted(indexed)][:MAX_ENTRIES]


def parse_entry(entry: str) -> StatusUpdate | None:
    """One ``data`` entry as a status update; None for other kinds or a malformed entry."""
    lines = [line.strip() for line in entry.replace("\r\n", "\n").split("\n")]
    if len(lines) < 3 or lines[0] != "sms_status" or not lines[1]:
        return None
    try:
        code = int(lines[2])
    except ValueError:
        return None
    at = int(lines[3]) if len(lines) > 3 and lines[3].isdigit() else None
    return StatusUpdate(lines[1], delivery_of(code), code, at)


def parse(form: Iterable[tuple[str, str]]) -> list[StatusUpdate]:
    """Every delivery status a callback form carries, in order."""
    return [update for entry in entries(form) if (update := parse_entry(entry)) is not None]


def signature(api_id: str, data: list[str]) -> str:
    return hashlib.sha256((api_id + "".join(data)).encode()).hexdigest()


def verify(form: Iterable[tuple[str, str]], api_id: str) -> bool:
    """True when the form's ``hash`` is SMS.ru's signature of its ``data`` with ``api_id``."""
    pairs = list(form)
    given = next((value for key, value in pairs if key == "hash"), "")
    return hmac.compare_digest(given.lower(), signature(api_id, entries(pairs)))


def handler(on_status: OnStatus, *, api_id: str | None = None) -> Callable[
    [web.Request], Awaitable[web.Response]
]:
    """An aiohttp handler for SMS.ru's callback: checks the ``hash`` when ``api_id`` is
    given (403 otherwise), hands the updates to ``on_status`` and answers ``100`` once it
    returned. When ``on_status`` raises, the answer is not ``100`` and SMS.ru retries."""

    async def handle(request: web.Request) -> web.Response:
        form = list((await request.post()).items())
        pairs = [(key, value) for key, value in form if isinstance(value, str)]
        if api_id is not None and not verify(pairs, api_id):
            log.warning("SMS.ru callback with a wrong hash refused")
            return web.Response(status=403, text="bad hash")
        updates = parse(pairs)
        if updates:
            await on_status(updates)
        return web.Response(text=ANSWER, content_type="text/plain")

    return handle

