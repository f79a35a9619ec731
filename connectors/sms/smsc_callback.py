"""SMSC.ru's delivery-status handler («обработчик статусов»): parse it, check it, answer it.

Wire: SMSC POSTs (or GETs) one urlencoded form per status change to the address the owner set
in the account's settings: ``id`` (the message id), ``phone`` (digits, no ``+``), ``status``
(the codes of ``status.php``, ``connectors.sms.smsc.DELIVERY``), ``err``, ``ts`` (epoch
seconds), and, when signing is on, ``md5`` = md5 of ``id:phone:status:<password>``. A form with
a wrong ``md5`` is refused (403); one without is taken on the route's own secret path alone.
Any 200 answer ends SMSC's retries.

``parse`` and ``verify`` are pure; ``handler`` is a small aiohttp handler the lead mounts.
Must not: find the customer or record anything (``on_status`` does).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from connectors.sms.callback import OnStatus, StatusUpdate
from connectors.sms.smsc import DELIVERY, sms_id_of

log = logging.getLogger("svyaz.connectors.sms")


def parse(form: Mapping[str, str]) -> StatusUpdate | None:
    """The status a handler call carries; None when it is not one svyaz sent (no id, no
    number, an unknown code)."""
    message_id, digits = form.get("id", ""), form.get("phone", "").lstrip("+")
    try:
        code = int(form.get("status", ""))
    except ValueError:
        return None
    if not (message_id.isdigit() and digits.isdigit()) or code not in DELIVERY:
        return None
    at = form.get("ts", "")
    return StatusUpdate(sms_id_of(message_id, f"+{digits}"), DELIVERY[code], code,
                        int(at) if at.isdigit() else None)


def signature(form: Mapping[str, str], password: str) -> str:
    line = f"{form.get('id', '')}:{form.get('phone', '')}:{form.get('status', '')}:{password}"
    return hashlib.md5(line.encode()).hexdigest()  # noqa: S324 - SMSC's own scheme


def verify(form: Mapping[str, str], password: str) -> bool:
    """False only for a form whose ``md5`` is not SMSC's signature with ``password``."""
    given = form.get("md5")
    return given is None or hmac.compare_digest(given.lower(), signature(form, password))


def handler(on_status: OnStatus, *, password: str | None = None) -> Callable[
    [web.Request], Awaitable[web.Response]
]:
    """An aiohttp handler for SMSC's status calls (POST or GET): checks ``md5`` when
    ``password`` is given, hands a status to ``on_status`` and answers ``OK``. When
    ``on_status`` raises, the answer is an error and SMSC calls again."""

    async def handle(request: web.Request) -> web.Response:
        posted = await request.post() if request.method == "POST" else request.query
        form = {key: value for key, value in posted.items() if isinstance(value, str)}
        if password is not None and not verify(form, password):
            log.warning("SMSC status call with a wrong md5 refused")
            return web.Response(status=403, text="bad md5")
        update = parse(form)
        if update is not None:
            await on_status([update])
        return web.Response(text="OK", content_type="text/plain")

    return handle
