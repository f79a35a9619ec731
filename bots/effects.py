"""Executing the effects the engine returns as data.

This module owns what each effect does in the world: reminders go to the scheduler, HTTP calls
to the business (aiohttp, timeout, retries only for idempotent methods; the result comes back as
a ``CallResultEvent`` for the runtime to feed through the same turn path), hand-off notifies the
owner (reaching nobody comes back as a ``HandoffUnheardEvent``), ``LinkChannel`` offers deep
links and a code (``bots.linking``, which also decides what link tokens, codes and confirmations
do: ``self.linking``), profile and consent effects go to ``storage.profiles``. It must not decide
what to say next; the engine does, given the results.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, assert_never

import aiohttp

from bots.delivery import Send
from bots.linking import (
    PHONE_MATCH_THERE,
    Linking,
    LinkTargets,
    account_of,
    offer,
    offered_channels,
)
from bots.owner import Owner, OwnerNote
from bots.texts import HANDOFF_DETAIL
from connectors.registry import INSTALLED
from flows.backoff import backoff_delay
from flows.inputs import phone_e164
from flows.types import (
    JSON,
    CallHttp,
    CallResultEvent,
    CancelReminder,
    Channel,
    Effect,
    Event,
    Handoff,
    HandoffUnheardEvent,
    Inbound,
    LinkChannel,
    RecordConsent,
    ReminderPassed,
    Reply,
    SaveProfile,
    ScheduleReminder,
    SetTags,
)
from storage.codec import decode_effects
from storage.errors import CodecError, InvalidValue
from storage.history import ADS_WITHDRAWN_NOTE, HistoryEntry
from storage.profile import normalise
from storage.save import Writes

if TYPE_CHECKING:
    from bots.delivery import Delivery
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})
CALL_ATTEMPTS = 3
CALL_BACKOFF = 0.5  # seconds, doubled per attempt
CALL_BACKOFF_CAP = CALL_BACKOFF * 2 ** (CALL_ATTEMPTS - 2)  # the last pause: never capped lower
_MAX_BODY = 1_000_000


def riding(effects: tuple[Effect, ...]) -> tuple[Writes | None, tuple[Effect, ...]]:
    """What of a turn's effects its save stores in the same step (``storage.save.Writes``):
    profile fields but the phone (its index and the linking offer are steps of their own)
    and tags; and the effects left to run after it. A value the profile refuses stays an
    effect, to fail as it did."""
    fields: list[tuple[str, str]] = []
    tags: list[str] = []
    rest: list[Effect] = []
    for effect in effects:
        if isinstance(effect, SetTags):
            tags += effect.tags
            continue
        if isinstance(effect, SaveProfile) and effect.field != "phone":
            with contextlib.suppress(InvalidValue):
                fields.append((effect.field, normalise(effect.field, effect.value)))
                continue
        rest.append(effect)
    if len(rest) == len(effects):
        return None, effects
    return Writes(tuple(fields), tuple(tags)), tuple(rest)


class Reminders(Protocol):
    """The scheduler as effects see it."""

    async def schedule(self, customer: str, reminder: ScheduleReminder) -> None: ...

    async def schedule_all(self, customer: str, reminders: Sequence[ScheduleReminder]) -> None:
        """Several at once: one round trip (a booking's reminders)."""

    async def cancel(self, customer: str, key: str) -> bool: ...

    async def move(self, source: str, target: str) -> int: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What executing a turn's effects produced: extra replies, calls still to make, events
    to feed back into the flow."""

    replies: tuple[Reply, ...] = ()
    calls: tuple[CallHttp, ...] = ()
    events: tuple[Event, ...] = ()


_NOTHING = Outcome()


@dataclass(slots=True)
class _Gathered:
    replies: list[Reply] = field(default_factory=list)
    calls: list[CallHttp] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def outcome(self) -> Outcome:
        return Outcome(tuple(self.replies), tuple(self.calls), tuple(self.events))


class Effects:
    """Runs effects for one customer's turn."""

    def __init__(
        self,
        *,
        store: Store,
        reminders: Reminders,
        owner: Owner,
        links: Callable[[], LinkTargets],
        channels: Collection[Channel],
        http: Callable[[], aiohttp.ClientSession],
        delivery: Delivery | None = None,
    ) -> None:
        self._delivery = delivery
        self._store = store
        self._reminders = reminders
        self._owner = owner
        self._links = links
        self._channels = channels
        self._http = http
        self.linking = Linking(store.identities, links=links, channels=channels)

    async def run(self, customer: str, inbound: Inbound, effects: Sequence[Effect]) -> Outcome:
        if not effects:  # most turns: nothing to gather
            return _NOTHING
        gathered = _Gathered()
        reminders: list[ScheduleReminder] = []  # in a row: scheduled together
        for effect in effects:
            if isinstance(effect, ScheduleReminder):
                reminders.append(effect)
                continue
            if reminders:
                await self._reminders.schedule_all(customer, reminders)
                reminders = []
            await self._live(customer, inbound, effect, gathered)
        if reminders:
            await self._reminders.schedule_all(customer, reminders)
        return gathered.outcome()

    async def _live(self, customer: str, inbound: Inbound, effect: Effect, out: _Gathered) -> None:
        """One effect of the turn being run (the dispatch of ``run``)."""
        match effect:
            case CallHttp():
                out.calls.append(effect)
            case Handoff():
                if not await self._hand_off(customer, inbound.channel, effect):
                    out.events.append(HandoffUnheardEvent())
            case LinkChannel():
                if (offered := await self._link(customer, inbound, effect)) is not None:
                    out.replies.append(offered)
            case SaveProfile(field="phone"):
                await self._save_phone(customer, effect.value)
            case ReminderPassed():
                log.info("reminder %s of %s not scheduled: its time %s had passed",
                         effect.key, customer, effect.at.isoformat())
            case (ScheduleReminder() | CancelReminder() | SaveProfile() | RecordConsent()
                  | SetTags()):
                await self._durable(customer, inbound.channel, effect)
            case _:
                assert_never(effect)

    async def replay(self, customer: str, left: str) -> int:
        """Run the effects a turn stored with its state (``storage.codec.encode_effects``)
        when the process died before running them all; how many ran. Each is safe to run
        twice: a reminder replaces its namesake, a profile field is overwritten, a consent
        already recorded is not recorded again; only a hand-off may be announced twice."""
        try:
            channel, effects = decode_effects(left)
        except CodecError as exc:
            log.error("dropping stored effects of %s that no longer decode: %s", customer, exc)
            return 0
        for effect in effects:
            if isinstance(effect, RecordConsent) and await self._has_consent(customer, effect):
                continue
            try:
                await self._durable(customer, channel, effect)
            except InvalidValue:  # (as in ``run``: a phone that does not parse is not kept)
                continue
        return len(effects)

    async def _has_consent(self, customer: str, consent: RecordConsent) -> bool:
        recorded = (await self._store.profiles.get(customer)).consents
        return bool(recorded) and (
            recorded[-1].what, recorded[-1].granted, recorded[-1].text_version, recorded[-1].at
        ) == (consent.purpose, consent.granted, consent.text_version, consent.at)

    async def _durable(self, customer: str, channel: str, effect: Effect) -> None:
        """An effect that only writes svyaz's data or tells the owner: run in the turn or
        again after a crash (the dispatch of ``replay``)."""
        match effect:
            case ScheduleReminder():
                await self._reminders.schedule(customer, effect)
            case CancelReminder():
                await self._reminders.cancel(customer, effect.key)
            case Handoff():  # (run again after a crash: nobody to tell now)
                await self._hand_off(customer, channel, effect)
            case SaveProfile():
                await self._store.profiles.set_field(customer, effect.field, effect.value)
            case RecordConsent():
                await self._store.profiles.record_consent(
                    customer, effect.granted, effect.text_version, effect.at, channel,
                    what=effect.purpose,
                )
                if effect.purpose == "ads" and not effect.granted:
                    await self._store.history.append(customer, HistoryEntry(
                        ts=effect.at.timestamp(), channel=channel, direction="event", text="",
                        note=ADS_WITHDRAWN_NOTE))
            case SetTags():
                await self._store.profiles.add_tags(customer, effect.tags)
            case CallHttp() | LinkChannel() | ReminderPassed():
                pass  # never stored with the state (``storage.codec.DURABLE_EFFECTS``)
            case _:
                assert_never(effect)

    async def _hand_off(self, customer: str, channel: str, effect: Handoff) -> bool:
        """Tell the owner; False when no destination took the note (none is set, or all
        failed): then nobody will answer the customer."""
        info = INSTALLED.get(channel)  # the channel as the owner calls it («чат на сайте»)
        detail = HANDOFF_DETAIL.format(channel=info.title if info else channel,
                                       reason=effect.reason).strip()
        reached = await self._owner.reach(OwnerNote("handoff", customer, detail))
        if not reached:
            log.warning("a hand-off reached no operator (%s); the customer is told nobody "
                        "will answer", "no owner destination is set" if not
                        self._owner.configured else "every owner destination failed",
                        extra={"customer": customer})
        return reached > 0

    async def _save_phone(self, customer: str, value: str) -> None:
        """Store the phone; when another consenting customer has it, send that customer a
        code for joining (``bots.linking``: never joined on the phone alone, and the answer
        here is the same whether the number is known or not, so it reveals nothing)."""
        phone = phone_e164(value, check="possible")  # what the profile accepts
        if phone is None:
            return
        identities = self._store.identities
        _, other = await self._store.profiles.set_phone(customer, phone)
        if other is None or other == customer or self._delivery is None:
            return
        if not await identities.phone_match_allowed(phone):
            return  # a stranger typing someone's number must not flood their chat with codes
        code = await identities.issue_link_code(customer)
        there = Reply(PHONE_MATCH_THERE.format(code=code))
        sent = await self._delivery.deliver(Send(other, (there,), "notice", note="phone match"))
        if sent.target is not None:  # told to type a code there: its six digits are a guess
            await identities.expect_code(account_of(sent.target.channel, sent.target.user_id))

    async def _link(self, customer: str, inbound: Inbound, effect: LinkChannel) -> Reply | None:
        links = self._links()
        channels = offered_channels(effect, inbound.channel, self._channels, links)
        return await offer(self._store.identities, customer, inbound, channels, links)

    async def merged(self, source: str, target: str) -> None:
        """``source`` was folded into ``target``: its reminders follow."""
        if source != target:
            await self._reminders.move(source, target)

    async def call(self, call: CallHttp) -> CallResultEvent:
        """Make the business's HTTP call; never raises (a failure is ``ok=False``)."""
        attempts = CALL_ATTEMPTS if call.method in IDEMPOTENT else 1
        result = CallResultEvent(call.call_id, ok=False, status=0)
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(backoff_delay(attempt - 1, base=CALL_BACKOFF,
                                                  cap=CALL_BACKOFF_CAP, jitter=False))
            result = await self._call_once(call)
            if result.status and result.status < 500:
                break
        return result

    async def _call_once(self, call: CallHttp) -> CallResultEvent:
        timeout = aiohttp.ClientTimeout(total=call.timeout)
        kwargs: dict[str, object] = {"headers": dict(call.headers), "timeout": timeout}
        if call.json is not None:
            kwargs["json"] = call.json
        try:
            async with self._http().request(call.method, call.url, **kwargs) as resp:  # type: ignore[arg-type]
                body = await resp.content.read(_MAX_BODY)
                data = _decode(body, resp.content_type)
                return CallResultEvent(call.call_id, ok=200 <= resp.status < 300,
                                       status=resp.status, data=data)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("http call failed: %s", type(exc).__name__,
                        extra={"call_id": call.call_id, "method": call.method})
            return CallResultEvent(call.call_id, ok=False, status=0)


def _decode(body: bytes, content_type: str) -> JSON:
    text = body.decode("utf-8", errors="replace")
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            value: JSON = json.loads(text)
        except ValueError:
            return text
        return value
    return text
