"""Where a message goes: the pure choice of channel (``bots.delivery`` executes it). Replies to a
message go back where the customer wrote; bot-initiated messages go to the most recently
active linked account, failing over to the next. This module must not do I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from connectors.registry import INSTALLED
from flows.types import Channel, Inbound


class Account(Protocol):
    """What delivery needs of a linked account (``storage`` ``AccountInfo``)."""

    @property
    def account(self) -> str: ...

    @property
    def last_active(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Target:
    """One place a message can be sent: a channel and the platform's recipient id."""

    channel: Channel
    user_id: str

    @property
    def account(self) -> str:
        return f"{self.channel}:{self.user_id}"


def split_account(account: str) -> Target | None:
    """``"vk:123"`` -> Target; None for an account of a channel svyaz does not know."""
    channel, _, user_id = account.partition(":")
    return Target(channel, user_id) if user_id and channel in INSTALLED else None


def plan_reply(inbound: Inbound) -> list[Target]:
    """A reply goes back to where the customer wrote (MAX: the chat, when given)."""
    return [Target(inbound.channel, inbound.reply_to or inbound.user_id)]


def plan_initiated(
    accounts: Sequence[Account], available: Collection[Channel],
    routes: Mapping[str, str] | None = None,
) -> list[Target]:
    """Bot-initiated: most recently active first, only channels that are switched on and
    never a send-only one (SMS, e-mail: notices reach them by the ladder alone); an account
    with a known route (its one-to-one chat, ``DIALOG_PREFIX``) goes by it."""
    ordered = sorted(accounts, key=lambda info: info.last_active, reverse=True)
    targets = (split_account(info.account) for info in ordered)
    routes = routes or {}
    return [Target(t.channel, routes.get(t.account, t.user_id)) for t in targets
            if t is not None and t.channel in available
            and not INSTALLED[t.channel].capabilities.send_only]


def account_on(
    channel: Channel, accounts: Sequence[Account], routes: Mapping[str, str] | None = None,
) -> Target | None:
    """The customer's most recently active account on ``channel`` (by its route, if known)."""
    for target in plan_initiated(accounts, {channel}, routes):
        return target
    return None
