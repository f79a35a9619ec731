"""Invitations: a personal link per messenger that joins an imported customer (``svyaz import
--invite``) with the account that opens it first.

The owner imports customers with a phone or an e-mail and no messenger account, and sends
each their own links (VK ``vk.me/<club>?ref=link-T``, MAX ``max.ru/<bot>?start=link-T``, the
web chat ``/chat#link=T``) by SMS or e-mail. The link's first opening joins that messenger
account to the imported customer: profile, consents and tags stay, the dialogue goes on there.

Threat model. The issuer is the business itself, so the «продолжить в …» link's danger (an
attacker's link opened by a victim, ``bots.linking``) is absent and there is nobody on the
other side to ask: the imported customer has no chat. The danger is the *redeemer*: a link
forwarded, leaked or read over a shoulder lets whoever opens it first become that customer
in the messenger (the bot may greet them by name, send them the customer's notices). So:

* A token is 128 random bits, single use (spent with ``GETDEL``: of two openings one wins),
  lives ``--days`` days (30 by default), and goes only to the phone or e-mail the business
  already has for that customer: holding that inbox is the proof.
* It joins only a customer with no messenger account yet. Once one link was used, the
  customer's other invitations are erased; a later link (forwarded, or a second channel)
  joins nothing and says so — to join a second messenger the customer asks «продолжить в …»
  from the first, which is the ordinary link with its confirmation.
* It joins only an opening account that is new or fresh (``Standing.fresh``: no profile,
  fewer than ``LINK_FRESH_MESSAGES`` typed messages): a fresh account has nothing of its own
  to lose and the question «объединить?» would have no one to answer it on the other side.
  An established account (someone who already writes here) is not joined by an invitation
  and does not spend it; it goes on as itself.
* ``svyaz forget`` erases the customer's invitations; a merge erases the merged side's.
* Neither the links nor the tokens are logged; the CSV of links is the owner's to guard.

This module owns these decisions and the links' making; it must not run flows or deliver.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from connectors.registry import INSTALLED
from flows.types import Channel

if TYPE_CHECKING:
    from storage.identity import Identities

Verdict = Literal["joined", "used", "not_here"]


@dataclass(frozen=True, slots=True)
class Invited:
    """What opening an invitation did: ``joined`` (the account now belongs to ``customer``,
    the invited one), ``used`` (spent or the customer already has a messenger) or
    ``not_here`` (an established account: nothing joined, the invitation stays)."""

    verdict: Verdict
    customer: str


def messenger(account: str) -> bool:
    """Whether ``account`` is a messenger's (a channel with a deep link), not SMS or e-mail."""
    info = INSTALLED.get(account.partition(":")[0])
    return info is not None and info.link is not None and info.address is None


async def redeem(ids: Identities, customer: str, account: str, token: str,
                 settle: tuple[str, str]) -> Invited | None:
    """Open invitation ``token`` from ``account`` (its customer: ``customer``); None when the
    token is no invitation (then it may be an ordinary link token)."""
    invited = await ids.invitations.customer_of(token)
    if invited is None:
        return None
    if invited == customer:
        await ids.invitations.spend(token)
        return Invited("joined", invited)
    if any(messenger(info.account) for info in await ids.accounts(invited)):
        return Invited("used", customer)
    if not (await ids.standing(customer)).fresh:
        return Invited("not_here", customer)
    if await ids.invitations.spend(token) is None:
        return Invited("used", customer)
    await ids.join_invited(account, invited, settle=settle)
    return Invited("joined", invited)


@dataclass(frozen=True, slots=True)
class Invitation:
    customer: str
    name: str
    channel: Channel
    link: str


async def invite(ids: Identities, customers: Sequence[tuple[str, str]],
                 targets: dict[Channel, str], ttl: int) -> list[Invitation]:
    """A token and its link per customer (id, name) and per messenger in ``targets`` (its
    link target: the community, the bot's username, the public URL)."""
    opens = {ch: info for ch, target in targets.items()
             if (info := INSTALLED.get(ch)) is not None and info.deep_link(target, "-")}
    made = []
    for customer, name in customers:
        for channel, info in opens.items():
            token = await ids.invitations.issue(customer, ttl)
            link = info.deep_link(targets[channel], token)
            made.append(Invitation(customer, name, channel, link or ""))
    return made


def from_csv(text: str) -> list[Invitation]:
    """The rows of a CSV ``as_csv`` wrote, cells stripped (the owner may have edited it: a
    row without a customer is left out, other blank cells stay "")."""
    rows: list[Invitation] = []
    for row in csv.DictReader(io.StringIO(text)):
        customer, name, channel, link = ((row.get(k) or "").strip()
                                         for k in ("customer", "name", "channel", "link"))
        if customer:
            rows.append(Invitation(customer, name, channel, link))
    return rows


def as_csv(invitations: Sequence[Invitation]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("customer", "name", "channel", "link"))
    for item in invitations:
        writer.writerow((item.customer, item.name, item.channel, item.link))
    return out.getvalue()
