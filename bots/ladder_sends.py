"""One rung of a notice's ladder sent by SMS or e-mail, exactly once (``bots.ladder`` climbs).

Each send is claimed in Redis before it leaves (``Notices.claim``) and settled after: a rung
is never claimed twice, so a crash, a timeout or a second process never sends a second SMS.
A send whose fate is unknown (the request left, no answer came) is settled ``unknown`` and
the ladder goes on to the next rung rather than risk paying twice. It must not decide which
rung comes next: it answers what happened (``Step``) and ``bots.ladder`` moves the notice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from connectors.base import ChannelError
from connectors.email import build_message
from connectors.registry import INSTALLED
from connectors.sms.base import (
    SendResult,
    SmsOutcomeUnknown,
    SmsProvider,
    SmsRefused,
    SmsSent,
    SmsUnavailable,
)
from connectors.sms.text import fit, parts, plain
from storage.notices import Notice, Refused, Sent, Unknown
from storage.sms_quota import Refusal, Taken


class Watch(Protocol):
    """Where the rungs report bot-wide SMS trouble (``bots.incidents.Incidents``)."""

    async def trouble(self, kind: str, detail: str = "") -> None: ...

    async def fine(self, kind: str) -> None: ...


if TYPE_CHECKING:
    from bots.metrics import Metrics
    from bots.spare import Spare
    from storage.store import Store


# What a rung did: went out (wait for the answer), nothing left (climb on now), nothing left
# but worth trying again soon (the provider's rate limit), or the claim was lost to another
# process (leave the notice to it).
Step = Literal["sent", "next", "retry", "elsewhere"]
RETRY = "retry: "  # a refusal the same rung may be claimed again after (storage CLAIM_LUA)
SMS_PER_SECOND = 10  # this process's own pace, under the providers' limits
SMS_PARTS = 2  # the most parts one notice may cost (issue 14: "default 2")
SUBJECT = "Напоминание"
STALE_CLAIM = 300.0  # seconds: a claim this old and unsettled was left by a dead process


class Sends:
    """The SMS and e-mail rungs, on the configured ``Spare`` senders."""

    def __init__(self, *, store: Store, spare: Spare, metrics: Metrics,
                 watch: Watch | None = None) -> None:
        self._watch = watch  # told of an empty SMS balance or a spent budget
        self._store = store
        self._spare = spare
        self._metrics = metrics
        self._pace = Pace(SMS_PER_SECOND)

    async def attached(self, customer: str) -> dict[str, str]:
        """The customer's send-only accounts by channel (``{"sms": "+7916…"}``): made of the
        profile's phone and e-mail, only while the consent is granted (``Registry.attached``)."""
        profile = await self._store.profiles.get(customer)
        fields = {"phone": profile.phone, "email": profile.email}
        return INSTALLED.attached(fields, profile.consent_granted)

    async def sms(self, notice: Notice, now: datetime, phone: str | None) -> Step:
        provider, notices = self._spare.sms, self._store.notices
        text = fit(plain(notice.text), SMS_PARTS)
        if provider is None or phone is None or not text:
            return await self._skip(notice, now, "no SMS provider" if provider is None
                                    else "no phone given with consent")
        taken = await notices.quota.take_sms(
            notice.customer, now.strftime("%Y-%m-%d"), now.strftime("%Y-%m"),
            self._spare.sms_daily_limit, self._spare.sms_monthly_budget, parts(text))
        if isinstance(taken, Refusal):
            if taken.limit == "monthly":
                await self._trouble("sms:budget")
            return await self._skip(notice, now, f"SMS limit: {taken.limit}")
        token = secrets.token_hex(8)
        claim = await notices.claim(notice.customer, notice.id, notice.at, token, now.timestamp())
        if not claim.won:
            await notices.quota.give_back(taken)
            return "elsewhere"  # another process claimed it: its settle decides
        try:
            await self._pace.wait()
            result = await provider.send(phone, text)
        except SmsOutcomeUnknown as exc:
            return await self._resolve(provider, notice, token, taken, exc, now)
        except SmsUnavailable as exc:
            await notices.quota.give_back(taken)
            await self._settle(notice, token, Refused(f"unavailable: {exc}"), now)
            return "next"
        return await self._answered(notice, token, taken, result, now, provider.name)

    async def _resolve(self, provider: SmsProvider, notice: Notice, token: str, taken: Taken,
                       doubt: SmsOutcomeUnknown, now: datetime) -> Step:
        """A send whose answer never came: never send blind again. Ask the provider by the
        id the adapter chose (SMSC): one it has is sent (its report will find the notice).
        Anything else is doubt and the next rung goes: no id (SMS.ru), no answer, or "not
        found", which a message still on its way into the provider's books may also be."""
        state = None
        if doubt.sms_id is not None:
            with contextlib.suppress(ChannelError):
                state = await provider.status(doubt.sms_id)
        if state is not None and state.delivery != "not_found":
            sent = SmsSent(state.sms_id, taken.parts, state.cost)  # (the parts counted)
            return await self._answered(notice, token, taken, sent, now, provider.name)
        self._metrics.sms_doubt.inc()
        await self._settle(notice, token, Unknown(str(doubt)), now)
        return "next"  # never send blind again: the next rung instead

    async def _answered(self, notice: Notice, token: str, taken: Taken, result: SendResult,
                        now: datetime, provider: str) -> Step:
        """Settle the rung with what the provider answered."""
        if isinstance(result, SmsRefused):
            await self._store.notices.quota.give_back(taken)
            if result.reason == "rate_limit":  # nothing left: the same rung, a little later
                await self._settle(notice, token, Refused(RETRY + "rate limit"), now)
                return "retry"
            await self._settle(notice, token, Refused(result.reason), now)
            if result.reason == "balance":
                await self._trouble("sms:balance")
            return "next"
        await self._settle(notice, token, Sent(provider, result.sms_id, result.parts), now)
        self._metrics.sms_sent.inc()
        await self._fine("sms:balance", "sms:budget")
        return "sent"

    async def email(self, notice: Notice, now: datetime, address: str | None) -> Step:
        sender = self._spare.email
        if sender is None or address is None:
            return await self._skip(notice, now, "no e-mail sender" if sender is None
                                    else "no e-mail given with consent")
        token = secrets.token_hex(8)  # (another climber, or a dead one's claim, wins nothing)
        claim = await self._store.notices.claim(notice.customer, notice.id, notice.at, token,
                                                now.timestamp())
        if not claim.won:
            return "elsewhere"  # another process claimed it: its settle decides
        try:
            message = build_message(to=address, subject=SUBJECT, text=plain(notice.text),
                                    notice_id=f"{notice.customer}/{notice.id}",
                                    mail_from=sender.mail_from, now=now)
        except ValueError as exc:  # an address that cannot be written to
            await self._settle(notice, token, Refused(f"bad address: {exc}"), now)
            return "next"
        sent = await sender.send(message)
        if sent.outcome == "sent":
            await self._settle(notice, token, Sent("email", ""), now)  # (no report comes)
            return "sent"
        await self._settle(notice, token, Refused(f"{sent.outcome} {sent.code or ''}"), now)
        return "next"

    async def _trouble(self, kind: str) -> None:
        if self._watch is not None:
            await self._watch.trouble(kind)

    async def _fine(self, *kinds: str) -> None:
        if self._watch is not None:
            for kind in kinds:
                await self._watch.fine(kind)

    async def _skip(self, notice: Notice, now: datetime, why: str) -> Step:
        """Nothing can go out on this rung: settled as refused, the ladder climbs on."""
        token = secrets.token_hex(8)
        claim = await self._store.notices.claim(notice.customer, notice.id, notice.at, token,
                                                now.timestamp())
        if not claim.won:
            return "elsewhere"  # another process claimed it: its settle decides
        await self._settle(notice, token, Refused(why), now)
        return "next"

    async def _settle(self, notice: Notice, token: str, outcome: Sent | Refused | Unknown,
                      now: datetime) -> None:
        await self._store.notices.settle(notice.customer, notice.id, notice.at, token, outcome,
                                         now.timestamp())


class Pace:
    """At most ``per_second`` sends a second from this process (waiting, not refusing)."""

    def __init__(self, per_second: int) -> None:
        self._per_second = per_second
        self._sent: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            while len(self._sent) >= self._per_second:
                gap = self._sent[0] + 1.0 - loop.time()
                if gap <= 0:
                    self._sent.popleft()
                    continue
                await asyncio.sleep(gap)
            self._sent.append(loop.time())
