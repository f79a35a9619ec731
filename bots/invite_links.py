"""New personal links for imported customers (``svyaz invite links invites.csv``): for those
whose links expired, were lost or never sent, and who have not joined a messenger yet.

``svyaz import`` makes links only for the customers it creates, and a second import refuses
a phone it already knows; this is the way to invite an imported customer again.

Who gets them (``plan``, nothing written): each customer of the CSV (its ``customer`` and
``name`` columns, as ``svyaz import --invite`` wrote it) who still has a card with a live
personal-data consent (152-FZ) and no messenger account. Skipped, with the reason: erased
(or no such customer), consent withdrawn, already writing in a messenger (nothing to invite
to: a second messenger is joined by «продолжить в …» from the first, ``bots.invites``).

``renew`` first erases the customer's old invitations (``Invitations.erase``: every old link,
of every messenger, stops working — a link that went by SMS may have been read by someone
else, and must not outlive the one that replaces it; an old link opened later is answered
like an expired one, ``texts.LINK_EXPIRED``, and joins nothing), then issues new ones
(``bots.invites.invite``).
Sending them is ``svyaz invite send --again`` (``bots.invite_send``). This module must not
send, import customers nor decide what a link joins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bots.invite_send import Skipped
from bots.invites import Invitation, from_csv, invite, messenger
from flows.messages import Msg, msg
from flows.types import Channel

if TYPE_CHECKING:
    from storage.identity import Identities
    from storage.store import Store


def read_customers(text: str) -> dict[str, str]:
    """The customers of an invitations CSV (``customer -> name``), in the file's order."""
    found: dict[str, str] = {}
    for row in from_csv(text):
        found.setdefault(row.customer, row.name)
    return found


@dataclass(slots=True)
class Renewal:
    """Who gets new links (customer id, name) and who does not, with the reason."""

    customers: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


async def plan(store: Store, wanted: Mapping[str, str]) -> Renewal:
    made = Renewal()
    for customer, name in wanted.items():
        reason = await _why_not(store, customer)
        if reason is None:
            made.customers.append((customer, name))
        else:
            made.skipped.append(Skipped(customer, name or None, reason))
    return made


async def _why_not(store: Store, customer: str) -> Msg | None:
    """Why ``customer`` gets no new links; None: they do."""
    try:
        profile = await store.profiles.get(customer)
    except ValueError:  # not a customer id at all (an edited CSV)
        return msg("invite.no_customer")
    if not (profile.phone or profile.email or profile.consents):  # erased (``svyaz forget``)
        return msg("invite.no_customer")
    if not profile.consent_granted:
        return msg("invite.no_consent")
    if any(messenger(a.account) for a in await store.identities.accounts(customer)):
        return msg("invite.in_messenger")
    return None


async def renew(ids: Identities, customers: Sequence[tuple[str, str]],
                targets: dict[Channel, str], ttl: int) -> list[Invitation]:
    """Erase each customer's old invitations, then make new ones (``bots.invites.invite``)."""
    made: list[Invitation] = []
    for one in customers:
        await ids.invitations.erase(one[0])
        made += await invite(ids, [one], targets, ttl)
    return made
