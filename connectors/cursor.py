"""Polling shared by several processes: one polls at a time, and hands on where it stood.

``PollCursor`` is the seam to the store (``storage.leader.PollCursor``, injected by
``bots.polling``): the VK Long Poll ``ts`` or the MAX marker is loaded when polling starts and
saved after each batch the sink accepted, so a process that takes over from a dead poller goes
on where that one stopped instead of where the platform stands now (the updates in between
would be lost). ``Polled`` is what a connector that polls offers the elected leader.

This module must not import storage or bots.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Protocol

from flows.errors import SvyazError

log = logging.getLogger("svyaz.connectors")


class PollCursor(Protocol):
    def load(self) -> Awaitable[str | None]:
        """The saved position, None when there is none (raises storage's errors)."""

    def save(self, value: str) -> Awaitable[None]:
        """Remember ``value`` as the position to go on from."""


class Polled(Protocol):
    """A connector whose updates come by polling, started only by the elected leader."""

    @property
    def polls(self) -> bool:
        """True in polling mode (the connector's ``start`` then leaves polling alone)."""

    async def start_polling(self, cursor: PollCursor | None = None) -> None:
        """Begin polling, from ``cursor``'s position when it has one."""

    async def stop_polling(self) -> None:
        """Stop polling (sending goes on)."""


async def resume(cursor: PollCursor | None, what: str) -> str | None:
    """The cursor's position; None without one or when the store cannot tell (polling then
    starts where the platform stands)."""
    if cursor is None:
        return None
    try:
        return await cursor.load()
    except SvyazError as exc:
        log.warning("%s: could not read where polling stood (%s); starting afresh", what,
                    type(exc).__name__)
        return None


async def remember(cursor: PollCursor | None, value: str) -> None:
    """Save the position; a failure only costs a successor some repeats (de-duplicated)."""
    if cursor is None:
        return
    try:
        await cursor.save(value)
    except SvyazError as exc:
        log.debug("could not save the polling position: %s", type(exc).__name__)
