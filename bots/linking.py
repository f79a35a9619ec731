"""Continuing a dialogue in another channel: link offers, link tokens and codes, confirmation.

Threat model (issue 13). A link token (``vk.me/<club>?ref=link-T``, ``max.ru/<bot>?start=
link-T``, ``/chat#link=T``) or a 6-digit code joins two channel accounts into one customer.
Whoever holds a token or code can hand it to someone else, so:

* The *issuer* (who asked «продолжить в …», or typed a phone another customer has) may be an
  attacker who sends the link to a victim with a history here. Opening a link or typing a code
  therefore only *claims* it for the account; nothing is merged until the person on that
  (redeeming) side presses «Объединить» under a text that says what will happen
  (``confirmation``). «Не объединять» drops the claim, and the spent link with it.
* Whichever side stays (``storage.links.keeps_issuer``: the established customer — the one
  with a profile, else the older; two fresh sides keep the issuer), neither side is shown the
  other's past: every account of a side receiving someone else's history gets a ``visible``
  mark, and the web chat replays only what came after it (``Identities.visible_from``). The
  profile is never shown to a channel. A fresh side that joins an established customer
  continues the dialogue from its current step, as the feature promises.
* The *redeemer* may be an attacker guessing codes. Six digits count as a guess only from an
  account told to type a code (it was shown a link offer or sent a phone-match code) or from
  a fresh customer's first messages; anyone else's six digits are an ordinary answer (a
  postcode, an order number) and spend nothing. Guesses are limited per account and per
  network address (``storage.links.Guesses``), never bot-wide, so nobody can burn everyone's
  codes. A right guess still needs the confirmation, which the guesser gives; what it gains
  is the dialogue from now on, not the past or the profile.
* The phone match must not tell whether a number is known: the answer here is the same for
  any number; the code goes to the other customer's channel (at most ``PHONE_MATCH_MAX`` per
  number and hour), and typing it there is again only a claim, confirmed with the button.
* A channel whose deep link is unavailable is not offered; with none, there is no offer.
* An imported customer's invitation (same deep links, its own tokens) is ``bots.invites``'.

This module owns these decisions (the texts the customer reads about them are in
``bots.texts``). It must not run
the engine or deliver: the runtime executes the ``Plan`` it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bots import texts
from bots.events import continue_command, link_code_of, link_token_of
from bots.invites import Invited, redeem
from connectors.base import dialog_user
from connectors.registry import INSTALLED
from flows.types import (
    Button,
    ButtonEvent,
    Channel,
    Event,
    Inbound,
    LinkChannel,
    Reply,
    ResumeEvent,
    StartEvent,
    TextEvent,
)

if TYPE_CHECKING:
    from storage.identity import Identities

LINK_YES = "svyaz-link-yes"
LINK_NO = "svyaz-link-no"
# The texts are ``bots.texts``'s; these names are the module's own vocabulary.
YES_LABEL = texts.LINK_YES_LABEL
NO_LABEL = texts.LINK_NO_LABEL
LINK_EXPIRED = texts.LINK_EXPIRED
CONFIRM = texts.LINK_CONFIRM
JOINED = texts.LINK_JOINED
KEPT_APART = texts.LINK_KEPT_APART
CONFIRM_EXPIRED = texts.LINK_CONFIRM_EXPIRED
ALREADY = texts.LINK_ALREADY
NO_OTHER_CHANNEL = texts.LINK_NO_OTHER_CHANNEL
PHONE_MATCH_THERE = texts.PHONE_MATCH_THERE


@dataclass(frozen=True, slots=True)
class LinkTargets:
    """Where deep links point, per channel: its link target (the MAX bot's username, the VK
    community, the bot's public URL); a channel without one is left out of offers."""

    targets: Mapping[Channel, str | None]


def deep_link(channel: Channel, token: str, links: LinkTargets) -> str | None:
    """The URL that opens ``channel`` with the link token; None when the channel has no deep
    link (then it is never offered)."""
    info = INSTALLED.get(channel)
    return None if info is None else info.deep_link(links.targets.get(channel), token)


def offered_channels(
    effect: LinkChannel, current: Channel, available: Collection[Channel], links: LinkTargets,
) -> list[Channel]:
    """The channels an offer may name: on, not this one, with a deep link that opens."""
    wanted = INSTALLED.names() if effect.target is None else (effect.target,)
    return [ch for ch in wanted if ch in available and ch != current
            and deep_link(ch, "-", links) is not None]


def can_offer(channels: Collection[Channel], links: LinkTargets) -> bool:
    """True when some customer could be offered another channel: two channels on with a deep
    link that opens (with only the web chat on, there is nowhere else to go)."""
    return sum(deep_link(ch, "-", links) is not None for ch in channels) >= 2


def link_offer(
    channels: Sequence[Channel], token: str, code: str, links: LinkTargets
) -> Reply:
    """The reply with deep links for ``channels`` (each available) and the 6-digit code."""
    buttons = tuple(
        Button(id=f"link-{channel}", text=INSTALLED[channel].continue_label, url=url)
        for channel in channels
        if (url := deep_link(channel, token, links)) is not None
    )
    return Reply(text=texts.LINK_OFFER.format(code=code), buttons=buttons)


async def offer(
    identities: Identities, customer: str, inbound: Inbound, channels: Sequence[Channel],
    links: LinkTargets,
) -> Reply | None:
    """Issue a token and a code for ``customer`` and offer ``channels``; None when there is no
    channel to offer (then nothing is issued)."""
    if not channels:
        return None
    token = await identities.issue_link_token(customer)
    code = await identities.issue_link_code(customer)
    await identities.expect_code(inbound.account)  # it may type a code of the other side here
    return link_offer(channels, token, code, links)


def account_of(channel: str, user_id: str) -> str:
    """The account a delivery target stands for (a route's last part is the user)."""
    return f"{channel}:{dialog_user(user_id) or user_id}"


def confirmation(where: str) -> Reply:
    """The question to the redeeming side; ``where``: the other side's channel."""
    info = INSTALLED.get(where)
    text = CONFIRM.format(where=texts.LINK_FROM_ELSEWHERE if info is None else info.came_from)
    return Reply(text=text, buttons=(Button(id=LINK_YES, text=YES_LABEL),
                                     Button(id=LINK_NO, text=NO_LABEL)))


def answer_of(event: Event) -> tuple[bool, bool] | None:
    """(yes, pressed) when ``event`` answers the confirmation: a button, or its label typed
    (``pressed`` False: only an answer when a link waits)."""
    if isinstance(event, ButtonEvent) and event.button in (LINK_YES, LINK_NO):
        return event.button == LINK_YES, True
    if isinstance(event, TextEvent):
        said = event.text.strip().strip("«»").casefold()
        if said in (YES_LABEL.casefold(), NO_LABEL.casefold()):
            return said == YES_LABEL.casefold(), False
    return None


@dataclass(frozen=True, slots=True)
class Plan:
    """What the runtime does with an entry linking handled: send ``replies``; then run
    ``event`` here, or (``moved_to``) go on in the customer the account now belongs to."""

    replies: tuple[Reply, ...] = ()
    event: Event | None = None
    moved_to: str | None = None
    label: str = "link"


def invitation_plan(invited: Invited, customer: str, inbound: Inbound) -> Plan:
    """What the runtime does after an invitation was opened (``bots.invites.redeem``)."""
    if invited.verdict == "used":
        return Plan((Reply(texts.INVITE_USED),), StartEvent(payload=None), label="invite-used")
    if invited.verdict == "not_here":
        return Plan((Reply(texts.INVITE_NOT_HERE),), ResumeEvent(inbound.channel),
                    label="invite-not-here")
    if invited.customer != customer:  # this (fresh) customer was merged into the invited one
        return Plan((Reply(texts.INVITE_JOINED),), moved_to=invited.customer, label="invite")
    return Plan((Reply(texts.INVITE_JOINED),), ResumeEvent(inbound.channel), label="invite")


class Linking:
    """Decides what a link-related inbound event does (``plan``); see the module docstring."""

    def __init__(self, identities: Identities, *, links: Callable[[], LinkTargets],
                 channels: Collection[Channel]) -> None:
        self._ids = identities
        self._links = links
        self._channels = channels

    async def plan(self, customer: str, inbound: Inbound, entry_id: str) -> Plan | None:
        """None: not about linking, run the event as usual (no Redis call for most events)."""
        event = inbound.event
        if (command := continue_command(event)) is not None:
            return await self._offer(customer, inbound, command)
        if (token := link_token_of(event)) is not None:
            invited = await redeem(self._ids, customer, inbound.account, token,
                                   (customer, entry_id))
            if invited is not None:  # an imported customer's invitation (``bots.invites``)
                return invitation_plan(invited, customer, inbound)
            return await self._claimed(customer, inbound, await self._ids.claim_link_token(
                token, inbound.account))
        if (code := link_code_of(event)) is not None:
            if not await self._ids.expects_code(inbound.account, customer):
                return None  # six digits from someone told of no code: an ordinary answer
            target = await self._ids.claim_link_code(code, inbound.account,
                                                     address=inbound.address)
            return None if target is None else await self._claimed(customer, inbound, target)
        if (answer := answer_of(event)) is not None:
            yes, pressed = answer
            if not pressed and await self._ids.pending_link(inbound.account) is None:
                return None
            if yes:
                return await self._join(customer, inbound, entry_id)
            await self._ids.drop_link(inbound.account)
            return Plan((Reply(KEPT_APART),), ResumeEvent(inbound.channel), label="link-no")
        return None

    async def _offer(self, customer: str, inbound: Inbound, command: LinkChannel) -> Plan:
        links = self._links()  # MAX's username arrives from GET /me after start
        channels = offered_channels(command, inbound.channel, self._channels, links)
        reply = await offer(self._ids, customer, inbound, channels, links)
        return Plan((reply or Reply(NO_OTHER_CHANNEL),), label="link-offer")

    async def _claimed(self, customer: str, inbound: Inbound, target: str | None) -> Plan:
        if target is None:
            return Plan((Reply(LINK_EXPIRED),), StartEvent(payload=None))
        if target == customer:
            await self._ids.drop_link(inbound.account)
            return Plan((Reply(ALREADY),), ResumeEvent(inbound.channel))
        accounts = await self._ids.accounts(target)
        where = accounts[0].account.partition(":")[0] if accounts else ""
        return Plan((confirmation(where),), label="link-ask")

    async def _join(self, customer: str, inbound: Inbound, entry_id: str) -> Plan:
        joined = await self._ids.confirm_link(inbound.account, settle=(customer, entry_id))
        if joined is None:
            return Plan((Reply(CONFIRM_EXPIRED),), label="link-expired")
        if joined.keep != customer:  # this customer was merged away: go on there
            return Plan((Reply(JOINED),), moved_to=joined.keep)
        return Plan((Reply(JOINED),), ResumeEvent(inbound.channel))
