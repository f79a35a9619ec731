"""The routes delivery keeps: how to reach an account besides its user id (MAX: the
one-to-one dialog's chat, ``connectors.base.DIALOG_PREFIX``).

A bot-initiated message's re-send after a crash can read a MAX dialog back only through its
chat (MAX has no idempotency key and no way to find a dialog from a user id but its events and
answers). A route comes from the customer's own message (a reply keeps ``Inbound.reply_to``)
or, for an account known only by its user id, from the platform's answer to the first message
sent to it (``RouteSource``). Stored once per process and account (best effort: a message
goes out without it). It must not send anything.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from connectors.base import DIALOG_PREFIX
from flows.types import Channel
from storage.bounded import put_bounded
from storage.errors import StorageError

if TYPE_CHECKING:
    from storage.store import Store

ROUTES_KEPT = 100_000  # accounts whose route this process has stored (a few MB at most)


@runtime_checkable
class RouteSource(Protocol):
    """A connector that learns a user's dialog from its answers (``MaxConnector``)."""

    def route_of(self, user_id: str) -> str | None: ...


class Routes:
    """Stores the routes learned, once per process and account."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._stored: dict[str, str] = {}  # "customer account" -> route stored (ROUTES_KEPT)

    async def keep(self, customer: str, account: str, route: str | None) -> None:
        """Remember ``route`` (a ``DIALOG_PREFIX`` one) as how to reach ``account``."""
        if route is None or not route.startswith(DIALOG_PREFIX):
            return
        known = f"{customer} {account}"
        if self._stored.get(known) == route:
            return
        with contextlib.suppress(StorageError):  # best effort: a reminder can still go
            await self._store.identities.set_route(customer, account, route)
            put_bounded(self._stored, known, route, ROUTES_KEPT)

    async def learned(self, customer: str, channel: Channel, user_id: str,
                      connector: object) -> None:
        """A message went to ``user_id`` (a bare user id, not a route): keep the dialog the
        platform's answer named, when the connector learned one."""
        if user_id.startswith(DIALOG_PREFIX) or not isinstance(connector, RouteSource):
            return
        await self.keep(customer, f"{channel}:{user_id}", connector.route_of(user_id))
