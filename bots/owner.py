"""Telling the business owner: a customer asked for a human, a reminder reached nobody.

This module owns the owner's notification hook: a JSON POST to ``SVYAZ_OWNER_WEBHOOK`` and/or
a message to the owner's VK peer (``SVYAZ_OWNER_VK_PEER``) or MAX chat
(``SVYAZ_OWNER_MAX_CHAT``). A failing hook is logged and never breaks a customer's turn.
It must not decide when to notify; callers do.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp

from connectors.base import ChannelError, Connector
from flows.types import Channel, Reply

log = logging.getLogger("svyaz.bots")

Kind = Literal["handoff", "undeliverable", "missed"]
_TITLES: dict[Kind, str] = {
    "handoff": "Клиент просит оператора",
    "undeliverable": "Напоминание не доставлено ни в один канал",
    "missed": "Напоминание пропущено (бот был выключен)",
}
_WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True, slots=True)
class OwnerNote:
    kind: Kind
    customer: str
    detail: str = ""

    def text(self) -> str:
        lines = [f"{_TITLES[self.kind]}.", f"Клиент: {self.customer}"]
        if self.detail:
            lines.append(self.detail)
        return "\n".join(lines)


class Owner:
    """Sends ``OwnerNote``s to every configured destination."""

    def __init__(
        self,
        *,
        webhook: str | None,
        chats: Mapping[Channel, str],
        connectors: Mapping[Channel, Connector],
        http: Callable[[], aiohttp.ClientSession],
    ) -> None:
        self._webhook = webhook
        self._chats = {ch: peer for ch, peer in chats.items() if ch in connectors}
        self._connectors = connectors
        self._http = http
        self.sent: int = 0

    @property
    def configured(self) -> bool:
        return bool(self._webhook or self._chats)

    async def notify(self, note: OwnerNote) -> None:
        if self._webhook:
            await self._post(note)
        for channel, peer in self._chats.items():
            await self._chat(channel, peer, note)

    async def _post(self, note: OwnerNote) -> None:
        assert self._webhook is not None
        body = {"event": note.kind, "customer": note.customer, "text": note.text(),
                "ts": time.time()}
        try:
            async with self._http().post(self._webhook, json=body,
                                         timeout=_WEBHOOK_TIMEOUT) as resp:
                if resp.status >= 400:
                    log.warning("owner webhook answered %s", resp.status,
                                extra={"customer": note.customer, "kind": note.kind})
                    return
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("owner webhook failed: %s", type(exc).__name__,
                        extra={"customer": note.customer, "kind": note.kind})
            return
        self.sent += 1

    async def _chat(self, channel: Channel, peer: str, note: OwnerNote) -> None:
        key = f"owner-{uuid.uuid4().hex}"
        try:
            await self._connectors[channel].send(peer, Reply(text=note.text()), message_key=key)
        except ChannelError as exc:
            log.warning("owner chat %s failed: %s", channel, type(exc).__name__,
                        extra={"customer": note.customer, "kind": note.kind})
            return
        self.sent += 1
