"""Invitations by SMS or e-mail (``svyaz invite send``): each imported customer gets one short
message with their personal links (the CSV ``svyaz import --invite`` wrote), once per channel.

Who gets one (``plan``, a dry run the owner reads before anything leaves):

* The customer's *live* personal-data consent (152-FZ) — every imported row carries one, with
  its date and source — and the phone or e-mail the business holds for them *now* (the CSV
  only names the customer and the links: nobody can point an invitation at another number
  by editing it; a customer erased or who withdrew the consent since is skipped).
  An invitation to the business's own chat is a service message about how to reach it, not
  advertising (38-FZ art. 18 is about offers of goods): it needs no ads consent, and its
  text must then carry no offer (``flows.texts.DEFAULT_INVITE_SMS``).
* Not yet in a messenger (a link was opened, or the customer wrote there: nothing to invite
  to), at least one of their links still live (single use, ``--days``), and no invitation on
  this channel before (``storage.invites.InviteSends``): at most one per customer and
  channel, ever — unless the owner made new links (``svyaz invite links``, which kills the
  old ones) and asks for them to go with ``--again``: then once more per channel for each
  new set of links (claimed under ``sms:<digest>``), never twice the same links.

How it leaves (``Sender``): claimed in Redis first (``HSETNX``), then the SMS quota the notices
respect (``SVYAZ_SMS_DAILY_LIMIT`` per customer and day, ``SVYAZ_SMS_MONTHLY_BUDGET`` parts a
month), then the provider or the SMTP server; settled ``sent`` or ``unknown`` (no answer came:
it may have left, and is never sent again). A send refused before leaving gives its claim and
quota back, so a re-run tries it again. A kill -9 between the claim and the answer leaves the
claim: that customer is not sent a second one. SMS wait for the day (``flows.climb``'s quiet
hours, as notices' SMS do). This module must not import customers nor make links.
"""

from __future__ import annotations

import collections
import hashlib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from bots.invites import from_csv, messenger
from bots.ladder_sends import SMS_PER_SECOND, Pace
from connectors.email import build_message
from connectors.registry import INSTALLED
from connectors.sms.base import SmsOutcomeUnknown, SmsRefused, SmsUnavailable
from connectors.sms.text import parts
from flows.climb import quiet_until
from flows.messages import Msg, msg
from flows.settings_use import INVITE_VARIABLES
from flows.templates import compile_text
from flows.types import JSON
from storage.invites import SentInvite
from storage.sms_quota import Refusal, Taken

if TYPE_CHECKING:
    from bots.spare import Spare
    from flows.schema import Texts
    from storage.store import Store

By = Literal["sms", "email"]
TOKEN = re.compile(r"link[-=]([A-Za-z0-9_-]{1,128})$")
# Refusals after which every later send would fail alike: the run stops there.
STOPPING = frozenset({"balance", "auth", "sender", "limit_monthly", "misconfigured"})


def read_links(text: str, only: Collection[str] = ()) -> dict[str, dict[str, str]]:
    """The links of each customer (``customer -> channel -> link``) in the CSV of ``svyaz
    import --invite`` (``bots.invites.from_csv``); ``only``: keep these channels."""
    found: dict[str, dict[str, str]] = {}
    for row in from_csv(text):
        if row.channel and row.link and (not only or row.channel in only):
            found.setdefault(row.customer, {})[row.channel] = row.link
    return found


@dataclass(frozen=True, slots=True)
class Wording:
    """The owner's words (``_bot.yaml`` ``texts:``) and ``vars:``, rendered per customer."""

    texts: Texts
    constants: Mapping[str, JSON] = field(default_factory=dict)

    def body(self, by: By, name: str | None, links: Mapping[str, str]) -> str:
        """The message with ``links`` (live ones, channel -> link); raises ``TemplateProblem``
        or ``TemplateRenderError`` for a text the owner got wrong."""
        source = self.texts.invite_sms if by == "sms" else self.texts.invite_email
        return compile_text(source).render(self._context(name, links)).strip()

    def subject(self, name: str | None, links: Mapping[str, str]) -> str:
        return compile_text(self.texts.invite_subject).render(self._context(name, links))

    def _context(self, name: str | None, links: Mapping[str, str]) -> dict[str, JSON]:
        lines = "\n".join(f"{_title(ch)}: {url}" for ch, url in links.items())
        return {**self.constants, **dict.fromkeys(INVITE_VARIABLES, ""), **links,
                "name": name or "", "links": lines}


def _title(channel: str) -> str:
    info = INSTALLED.get(channel)
    return info.title if info is not None else channel


@dataclass(frozen=True, slots=True)
class Letter:
    customer: str
    name: str | None
    to: str  # the phone or the address, from the profile
    text: str
    parts: int  # SMS parts (0 for an e-mail)
    subject: str = ""  # an e-mail's
    field: str = ""  # what the send claims (``storage.invites.InviteSends``): sms, sms:<links>
    links: str = ""  # the digest of the links it carries


@dataclass(frozen=True, slots=True)
class Skipped:
    customer: str
    name: str | None
    reason: Msg


@dataclass(slots=True)
class Plan:
    by: By
    letters: list[Letter] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def total_parts(self) -> int:
        return sum(letter.parts for letter in self.letters)


async def plan(store: Store, by: By, wanted: Mapping[str, Mapping[str, str]],
               wording: Wording, *, again: bool = False) -> Plan:
    """Who gets which message on ``by``, and who is skipped and why (nothing is written);
    ``again``: also those sent an earlier invitation on ``by``, if these links are new."""
    made = Plan(by)
    for customer, links in wanted.items():
        one = await _one(store, by, customer, links, wording, again)
        if isinstance(one, Letter):
            made.letters.append(one)
        else:
            made.skipped.append(one)
    return made


async def _one(store: Store, by: By, customer: str, links: Mapping[str, str],
               wording: Wording, again: bool) -> Letter | Skipped:
    try:
        profile = await store.profiles.get(customer)
    except ValueError:  # not a customer id at all (an edited CSV)
        return Skipped(customer, None, msg("invite.no_customer"))
    to = profile.phone if by == "sms" else profile.email
    if to is None:
        return Skipped(customer, profile.name, msg(f"invite.no_{by}"))
    if not profile.consent_granted:
        return Skipped(customer, profile.name, msg("invite.no_consent"))
    live = {ch: url for ch, url in links.items() if await _live(store, customer, url)}
    field = claim_field(await store.invite_sends.records(customer), by, digest(live), again)
    if isinstance(field, Msg):  # sent, or it may have left (a run died or heard no answer)
        return Skipped(customer, profile.name, field)
    if any(messenger(a.account) for a in await store.identities.accounts(customer)):
        return Skipped(customer, profile.name, msg("invite.in_messenger"))
    if not live:
        return Skipped(customer, profile.name, msg("invite.spent"))
    text = wording.body(by, profile.name, live)
    subject = wording.subject(profile.name, live) if by == "email" else ""
    return Letter(customer, profile.name, to, text, parts(text) if by == "sms" else 0,
                  subject, field, digest(live))


def claim_field(records: Mapping[str, SentInvite], by: By, links: str,
                again: bool) -> str | Msg:
    """The field a send of ``links`` (a digest) claims: ``by`` the first time, ``by:links``
    sent again (``--again``, other links than any sent before); else why it is not sent."""
    before = [record for name, record in records.items() if name.partition(":")[0] == by]
    if not before:
        return by
    if again:
        fresh = all(record.links != links for record in before)
        return f"{by}:{links}" if fresh else msg("invite.same_links", channel=by)
    last = max(before, key=lambda record: record.at)
    return msg("invite.already" if last.state == "sent" else "invite.maybe", channel=by)


def digest(links: Mapping[str, str]) -> str:
    """A short stable name of a set of links (their tokens; not the tokens themselves)."""
    tokens = sorted(found.group(1) for url in links.values() if (found := TOKEN.search(url)))
    return hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:16]


async def _live(store: Store, customer: str, link: str) -> bool:
    """Whether ``link``'s token still invites ``customer`` (not spent, not expired)."""
    found = TOKEN.search(link)
    return found is not None and \
        await store.identities.invitations.customer_of(found.group(1)) == customer


class Sender:
    """Sends a plan's letters, each claimed once; counts what happened (``sent``, ``already``,
    ``unknown``, ``limit_daily``, a provider's refusal reason …)."""

    def __init__(self, *, store: Store, spare: Spare, zone: ZoneInfo,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._store = store
        self._spare = spare
        self._zone = zone
        self._clock = clock or (lambda: datetime.now(zone))
        self._pace = Pace(SMS_PER_SECOND)

    def night(self) -> datetime | None:
        """When SMS may go (09:00) if it is the quiet night now, else None."""
        return quiet_until(self._clock().astimezone(self._zone))

    async def send(self, made: Plan) -> collections.Counter[str]:
        done: collections.Counter[str] = collections.Counter()
        for letter in made.letters:
            outcome = await (self._sms(letter) if made.by == "sms" else self._email(letter))
            done[outcome] += 1
            if outcome in STOPPING:
                done["not_tried"] += len(made.letters) - sum(done.values())
                break
        return done

    async def _sms(self, letter: Letter) -> str:
        provider, sends = self._spare.sms, self._store.invite_sends
        now = self._clock().astimezone(self._zone)
        if provider is None:
            return "no_provider"
        if not await sends.claim(letter.customer, letter.field, now.timestamp(), letter.to,
                                 letter.links):
            return "already"
        taken = await self._store.notices.quota.take_sms(
            letter.customer, now.strftime("%Y-%m-%d"), now.strftime("%Y-%m"),
            self._spare.sms_daily_limit, self._spare.sms_monthly_budget, letter.parts)
        if isinstance(taken, Refusal):
            await sends.release(letter.customer, letter.field)
            return f"limit_{taken.limit}"
        try:
            await self._pace.wait()
            result = await provider.send(letter.to, letter.text)
        except SmsOutcomeUnknown as doubt:
            await sends.settle(letter.customer, letter.field, SentInvite(
                "unknown", now.timestamp(), letter.to, doubt.sms_id or "", letter.parts,
                letter.links))
            return "unknown"
        except SmsUnavailable:  # nothing left: a re-run tries again
            return await self._give_back(letter, taken, "unavailable")
        if isinstance(result, SmsRefused):
            return await self._give_back(letter, taken, result.reason)
        await sends.settle(letter.customer, letter.field, SentInvite(
            "sent", now.timestamp(), letter.to, result.sms_id, result.parts, letter.links))
        return "sent"

    async def _give_back(self, letter: Letter, taken: Taken, why: str) -> str:
        """An SMS that never left: its quota and its claim go back (a re-run tries it)."""
        await self._store.notices.quota.give_back(taken)
        await self._store.invite_sends.release(letter.customer, letter.field)
        return why

    async def _email(self, letter: Letter) -> str:
        sender, sends = self._spare.email, self._store.invite_sends
        now = self._clock().astimezone(self._zone)
        if sender is None:
            return "no_provider"
        if not await sends.claim(letter.customer, letter.field, now.timestamp(), letter.to,
                                 letter.links):
            return "already"
        again = "" if letter.field == "email" else f"/{letter.links}"  # a Message-ID of its own
        try:
            message = build_message(to=letter.to, subject=letter.subject, text=letter.text,
                                    notice_id=f"invite/{letter.customer}{again}",
                                    mail_from=sender.mail_from, now=now)
        except ValueError:  # an address that cannot be written to
            await sends.release(letter.customer, letter.field)
            return "bad_address"
        sent = await sender.send(message)
        if sent.outcome in ("sent", "unknown"):
            await sends.settle(letter.customer, letter.field, SentInvite(
                sent.outcome, now.timestamp(), letter.to, links=letter.links))
            return sent.outcome
        await sends.release(letter.customer, letter.field)
        return sent.outcome
