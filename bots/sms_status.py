"""The SMS providers' delivery reports: ``/sms/status/<secret>``, and ``svyaz sms-url``.

SMS.ru posts batches to its callback (``connectors.sms.callback``); SMSC.ru calls its status
handler once per change (``connectors.sms.smsc_callback``). The path's secret is derived from
the bot's secret key (``SVYAZ_SECRET_KEY`` or the one in the data folder), so only the
provider, given the address, can call it; a wrong path is a 404 like any unknown one, and the
provider's own signature is checked too (SMS.ru's ``hash``; SMSC's ``md5`` when it sends one).
A report lands in the notice (``Notices.report``) and the customer's history («SMS
доставлено» / «SMS не доставлено»); a report for an unknown message id is ignored; a message
not delivered moves the ladder on at its next climb. It must not print the secret in a log:
``svyaz sms-url`` shows it to the owner, who registers it in the provider's account.
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
from connectors.sms.callback import OnStatus, StatusUpdate
from connectors.sms.callback import handler as smsru_handler
from connectors.sms.smsc_callback import handler as smsc_handler
from flows.messages import msg
from storage.history import HistoryEntry

# Where the owner gives the provider the address, in its account.
WHERE = {
    "smsru": "в личном кабинете SMS.ru: Настройки → Callback (обработчики)",
    "smsc": "в личном кабинете SMSC.ru: Настройки → адрес обработчика статусов (HTTP)",
}


def path_secret(settings: Settings) -> str:
    """The secret part of the report address: stable per bot, unguessable."""
    digest = hmac.new(secret_key(settings), b"svyaz sms status", hashlib.sha256)
    return digest.hexdigest()[:32]


def route(settings: Settings, edge: Edge) -> web.RouteDef | None:
    """The report route of the configured provider, else None."""
    provider, on_status = settings.sms_provider, _recorder(settings, edge)
    path = f"/sms/status/{path_secret(settings)}"
    if provider == "smsru" and settings.sms_api_id is not None:
        api_id = settings.sms_api_id.get_secret_value()
        return web.post(path, smsru_handler(on_status, api_id=api_id))
    if provider == "smsc" and settings.smsc_password is not None:
        password = settings.smsc_password.get_secret_value()
        return web.route("*", path, smsc_handler(on_status, password=password))
    return None


def _recorder(settings: Settings, edge: Edge) -> OnStatus:
    provider = settings.sms_provider or ""

    async def on_status(updates: Sequence[StatusUpdate]) -> None:
        parts = edge.started
        if parts is None:  # not started, or stopping: the provider calls again later
            raise ChannelUnavailable("svyaz is not running yet")
        for update in updates:
            if update.delivery not in ("delivered", "failed"):
                continue
            now = time.time()
            delivered = update.delivery == "delivered"
            ref = await parts.store.notices.report(provider, update.sms_id, delivered, now)
            if ref is None:
                continue  # not ours (or erased): ignored
            note = "SMS доставлено" if delivered else "SMS не доставлено"
            await parts.store.history.append(ref.customer, HistoryEntry(
                ts=now, channel="-", direction="event", text="", note=note))
            if not delivered:  # the ladder climbs on at its next look
                await parts.store.notices.reschedule(ref.customer, ref.notice_id, now, now)

    return on_status


def register(sub: argparse._SubParsersAction[Any]) -> None:
    from bots.cmd_flows import owner_lang

    says = msg("cli.sms_url").render(owner_lang())
    command = sub.add_parser("sms-url", help=says, description=says)
    command.set_defaults(handler=sms_url_command)


def sms_url_command(args: argparse.Namespace) -> int:
    from bots.cmd_run import refuse
    from flows.messages import msg

    try:
        settings = load_settings()
    except ConfigError as exc:
        refuse(msg("settings.refused"), exc.found)
        return 1
    if settings.sms_provider is None:
        print("SVYAZ_SMS_PROVIDER не задан: SMS не отправляются, отчётов о доставке не будет.")
        return 1
    print(f"{settings.public_url.rstrip('/')}/sms/status/{path_secret(settings)}")
    print(f"Укажите этот адрес {WHERE[settings.sms_provider]}.")
    return 0
