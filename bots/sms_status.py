"""SMS.ru's delivery reports: ``POST /sms/status/<secret>``, and ``svyaz sms-url`` to tell it.

The path's secret is derived from the bot's secret key (``SVYAZ_SECRET_KEY`` or the one in
the data folder), so only SMS.ru, given the address, can post; a wrong path is a 404 like any
unknown one, and SMS.ru's own ``hash`` is checked too. A report lands in the notice
(``Notices.report``) and the customer's history («SMS доставлено» / «SMS не доставлено»);
a report for an unknown message id is ignored; a message not delivered moves the ladder on at
its next climb. It must not print the secret in a log: ``svyaz sms-url`` shows it to the
owner, who registers it in the SMS.ru account.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from bots.config import ConfigError, Settings, load_settings, secret_key
from bots.parts import Edge
from connectors.base import ChannelUnavailable
from connectors.sms.callback import StatusUpdate, handler
from storage.history import HistoryEntry

PROVIDER = "smsru"


def path_secret(settings: Settings) -> str:
    """The secret part of the report address: stable per bot, unguessable."""
    digest = hmac.new(secret_key(settings), b"svyaz sms status", hashlib.sha256)
    return digest.hexdigest()[:32]


def route(settings: Settings, edge: Edge) -> web.RouteDef | None:
    """The report route when SMS.ru is the provider, else None."""
    if settings.sms_provider != PROVIDER or settings.sms_api_id is None:
        return None

    async def on_status(updates: Sequence[StatusUpdate]) -> None:
        parts = edge.started
        if parts is None:  # not started, or stopping: SMS.ru posts again later
            raise ChannelUnavailable("svyaz is not running yet")
        for update in updates:
            if update.delivery not in ("delivered", "failed"):
                continue
            now = time.time()
            delivered = update.delivery == "delivered"
            ref = await parts.store.notices.report(PROVIDER, update.sms_id, delivered, now)
            if ref is None:
                continue  # not ours (or erased): ignored
            note = "SMS доставлено" if delivered else "SMS не доставлено"
            await parts.store.history.append(ref.customer, HistoryEntry(
                ts=now, channel="-", direction="event", text="", note=note))
            if not delivered:  # the ladder climbs on at its next look
                await parts.store.notices.reschedule(ref.customer, ref.notice_id, now, now)

    api_id = settings.sms_api_id.get_secret_value()
    return web.post(f"/sms/status/{path_secret(settings)}", handler(on_status, api_id=api_id))


def register(sub: argparse._SubParsersAction[Any]) -> None:
    command = sub.add_parser("sms-url", help="the address to give SMS.ru for delivery reports")
    command.set_defaults(handler=sms_url_command)


def sms_url_command(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print("\n".join(exc.problems))
        return 1
    if settings.sms_provider != PROVIDER:
        print("SVYAZ_SMS_PROVIDER is not smsru: delivery reports come only from SMS.ru.")
        return 1
    print(f"{settings.public_url.rstrip('/')}/sms/status/{path_secret(settings)}")
    print("Укажите этот адрес в личном кабинете SMS.ru: Настройки → Callback (обработчики).")
    return 0
