"""The escalation ladder of critical notices: messenger, then SMS, then e-mail, until the
customer acts (issue 14).

The walk of one critical reminder (``remind: … critical: true, escalate: [messenger, sms,
email], within: 2h``):

1. ``bots.firing`` fires it and calls ``Ladder.open`` (a notice in ``storage.notices``: its
   rungs, a first check after ``within``), then injects the timer event as for any reminder.
2. The reminder's turn (``bots.turn``) delivers its replies through the messengers
   (``Delivery.initiate``: the last active one, then the others) and calls
   ``Ladder.messenger_done`` with their text and whether a messenger took them: the text is
   kept with the notice; delivered, the check waits ``within`` (or, ``until: delivered``, the
   notice ends); not delivered, the next rung is due at once.
3. ``Ladder.climb_due`` (every few seconds, in every process: claims keep sends single)
   takes the notices whose check is due. The customer wrote on any channel since the last
   rung went out (an account's last activity) — the notice is answered, nothing more goes.
   Else the notice moves to its next rung, which ``bots.ladder_sends`` runs: SMS to the
   profile's phone (consent, the night rule, the daily limit and the monthly budget), e-mail
   to its address. Each step is written to the customer's history, so the owner sees why an
   SMS went out. After the last rung the owner hears that the notice reached nobody.

It must not render or parse platform payloads (connectors do) nor keep state between calls:
everything lives in the notice record.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from bots.delivery import Send, account_on
from bots.ladder_sends import RETRY, STALE_CLAIM, Sends, Step, Watch
from bots.owner import OwnerNote
from bots.texts import NOTICE_FALLBACK
from connectors.registry import INSTALLED
from flows.climb import quiet_until
from flows.types import MESSENGER, Reply
from flows.types import Ladder as Plan
from storage.history import HistoryEntry
from storage.notices import Notice, Refused, Sent

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bots.delivery import Delivery
    from bots.metrics import Metrics
    from bots.spare import Spare
    from storage.store import Store

log = logging.getLogger("svyaz.bots")

CLIMB_EVERY = 5.0  # seconds between looks at the due notices
NOTICE_TEXT_WAIT = 900.0  # seconds a notice waits for its reminder's text before the fallback
RETRY_AFTER = 2.0  # seconds before a rung the provider's rate limit refused is tried again
TIMER_PREFIX = "timer:"  # a reminder's event id: timer:<key>:<due> (bots.firing)


def notice_id_of(event_id: str) -> str | None:
    """The notice a reminder's firing opens, from its event id (stable across retries; a
    digest: a reminder's key may hold any character)."""
    if not event_id.startswith(TIMER_PREFIX):
        return None
    return hashlib.sha256(event_id.encode()).hexdigest()[:32]


class Ladder:
    """Opens notices, hears how the messengers did, and climbs the due ones."""

    def __init__(self, *, store: Store, delivery: Delivery, spare: Spare, metrics: Metrics,
                 zone: ZoneInfo, owner_notify: Callable[[OwnerNote], Awaitable[None]] | None,
                 clock: Callable[[], float] = time.time, watch: Watch | None = None) -> None:
        self._store = store
        self._delivery = delivery
        self._metrics = metrics
        self._zone = zone
        self._owner_notify = owner_notify
        self._clock = clock
        self._sends = Sends(store=store, spare=spare, metrics=metrics, watch=watch)

    async def open(self, customer: str, event_id: str, plan: Plan) -> None:
        """A critical reminder fires (``event_id``: its timer event's): its notice, checked
        ``within`` from now at the latest."""
        notice_id = notice_id_of(event_id)
        if notice_id is None:
            raise ValueError(f"not a reminder's event id: {event_id!r}")
        now, within = self._clock(), plan.within.total_seconds()
        fields = {"until": plan.until, "within": repr(within), "urgent": str(int(plan.urgent))}
        await self._store.notices.open(customer, notice_id, plan.rungs, now,
                                       check_at=now + within, fields=fields)

    async def told(self, customer: str, event_id: str, replies: Sequence[Reply]) -> None:
        """The reminder's turn says what its notice says, before it delivers (nothing is
        kept when the reminder opened no notice)."""
        notice_id = notice_id_of(event_id)
        text = "\n".join(reply.text for reply in replies if reply.text)
        if notice_id is not None and text:
            await self._store.notices.texts.keep(customer, notice_id, text)

    async def messenger_done(self, customer: str, event_id: str, replies: Sequence[Reply],
                             delivered: bool) -> bool:
        """The reminder's turn delivered (or not) through the messengers; True when a notice
        takes it from here (then the turn does not report it undeliverable)."""
        notice_id = notice_id_of(event_id)
        notices = self._store.notices
        notice = None if notice_id is None else await notices.get(customer, notice_id)
        if notice is None or notice.state != "climbing":
            return False
        if not notice.text:  # (told before; a turn run again after a crash tells it here)
            await self.told(customer, event_id, replies)
        if not _is_messenger(notice.current):  # (a ladder that starts with SMS: climb now)
            await notices.reschedule(customer, notice.id, self._clock(), self._clock())
            return True
        await self._mark_messenger(notice, self._clock(), delivered)
        await self._after_send(await self._fresh(notice), "sent" if delivered else "next",
                               "messenger")
        return True

    async def climb_due(self) -> int:
        """Climb every notice whose check is due; how many were looked at."""
        due = await self._store.notices.due(self._clock())
        for item in due:
            try:
                await self._climb(item.customer, item.notice_id)
            except Exception:  # one notice's trouble must not stop the others
                log.exception("notice climb failed", extra={"customer": item.customer})
        return len(due)

    async def _climb(self, customer: str, notice_id: str) -> None:
        notices = self._store.notices
        notice = await notices.get(customer, notice_id)
        if notice is None or notice.state != "climbing":
            return
        if await self._answered(notice):
            await notices.answered(customer, self._clock())
            await self._history(customer, "клиент ответил: уведомление остановлено")
            return
        current = notice.outcomes[notice.at]
        if current is not None and current.status == "claimed":  # a send under way, or dead
            if self._clock() - current.at < STALE_CLAIM:
                return  # another process is sending it now: its settle decides
            self._metrics.sms_doubt.inc()
            await self._history(customer, f"неизвестно, ушло ли {rung_title(notice.current)}: "
                                          "не повторяем, дальше по лестнице")
        if current is not None and not current.reason.startswith(RETRY):  # done: the next
            moved = await notices.advance(customer, notice_id, notice.at, self._clock())
            if moved is None or moved.state != "climbing":
                await self._exhausted(customer, notice)
                return
            self._metrics.notices_climbed.inc()
            notice = moved
        await self._run_rung(notice)

    async def _run_rung(self, notice: Notice) -> None:
        now = datetime.fromtimestamp(self._clock(), self._zone)
        rung = notice.current
        if not notice.text:  # the reminder's turn has not told its text (yet)
            if now.timestamp() - notice.created < NOTICE_TEXT_WAIT:
                await self._store.notices.reschedule(notice.customer, notice.id,
                                                     now.timestamp() + 30, now.timestamp())
                return
            log.warning("notice %s of %s never got its reminder's text; sending the fallback",
                        notice.id, notice.customer)
            notice = replace(notice, text=NOTICE_FALLBACK)
        if waits_for_morning(rung) and not notice.urgent \
                and (morning := quiet_until(now)) is not None:
            await self._store.notices.reschedule(notice.customer, notice.id,
                                                 morning.timestamp(), now.timestamp())
            return
        if rung == "sms":
            attached = await self._sends.attached(notice.customer)
            step = await self._sends.sms(notice, now, attached.get(rung))
        elif rung == "email":
            attached = await self._sends.attached(notice.customer)
            step = await self._sends.email(notice, now, attached.get(rung))
        else:
            told = await self._messenger(notice, rung, now.timestamp())
            if told is None:
                return
            step = told
        await self._after_send(await self._fresh(notice), step, rung)

    async def _messenger(self, notice: Notice, rung: str, now: float) -> Step | None:
        """A messenger rung later in the ladder, claimed first as SMS is (one process sends):
        ``messenger`` is the last active one, failing over to the others; a channel's name
        (``vk``) is the customer's account there only. None: another process has it."""
        token = secrets.token_hex(8)
        claim = await self._store.notices.claim(notice.customer, notice.id, notice.at, token, now)
        if not claim.won:
            return None
        send = Send(notice.customer, (Reply(notice.text),), "notice", deadline=now + notice.within,
                    note="notice")
        if rung != MESSENGER:
            accounts, routes = await self._store.identities.reach(notice.customer)
            send = replace(send, account=account_on(rung, accounts, routes))
        delivered = None if rung != MESSENGER and send.account is None \
            else await self._delivery.deliver(send)
        step: Step = "sent" if delivered is not None and delivered.target is not None else "next"
        outcome = Sent("messenger", "") if step == "sent" else Refused(
            "undeliverable" if delivered is not None else f"no {rung} account")
        await self._store.notices.settle(notice.customer, notice.id, notice.at, token, outcome,
                                         now)
        return step

    async def _after_send(self, notice: Notice | None, step: Step, rung: str) -> None:
        """Wait ``within`` for the customer after a send; climb on at once after nothing."""
        if notice is None or step == "elsewhere":
            return
        now = self._clock()
        if step == "retry":  # the provider's rate limit: this rung again in a moment
            await self._store.notices.reschedule(notice.customer, notice.id, now + RETRY_AFTER,
                                                 now)
            return
        if step == "sent":
            await self._history(notice.customer, f"уведомление отправлено: {rung_title(rung)}")
            if notice.until == "delivered":
                await self._store.notices.stop(notice.customer, notice.id, "delivered", now)
                return
            await self._store.notices.reschedule(notice.customer, notice.id,
                                                 now + notice.within, now)
            return
        await self._history(notice.customer, f"уведомление не ушло: {rung_title(rung)}")
        await self._store.notices.reschedule(notice.customer, notice.id, now, now)

    async def _mark_messenger(self, notice: Notice, now: float, delivered: bool) -> None:
        """The first rung, settled by the reminder's own delivery (one token per notice: a
        turn run again after a crash settles it again, the same way; the outbox kept the
        delivery single)."""
        token = f"messenger-{notice.id}-{notice.at}"
        claim = await self._store.notices.claim(notice.customer, notice.id, notice.at, token,
                                                now)
        if claim.won:
            outcome = Sent("messenger", "") if delivered else Refused("undeliverable")
            await self._store.notices.settle(notice.customer, notice.id, notice.at, token,
                                             outcome, now)

    async def _fresh(self, notice: Notice) -> Notice | None:
        return await self._store.notices.get(notice.customer, notice.id)

    async def _answered(self, notice: Notice) -> bool:
        """The customer wrote on a messenger after the last rung went out."""
        sent = [o.at for o in notice.outcomes if o is not None and o.status == "sent"]
        since = max(sent, default=notice.created)
        accounts, _ = await self._store.identities.reach(notice.customer)
        return any(info.last_active > since for info in accounts
                   if _is_messenger(info.account.partition(":")[0]))

    async def _exhausted(self, customer: str, notice: Notice) -> None:
        """The last rung passed: the owner hears only when nothing reached the customer (a
        notice that went out and got no answer is history, not an alarm)."""
        if any(o is not None and o.status == "sent" for o in notice.outcomes):
            await self._history(customer, "клиент не ответил на уведомление")
            return
        note = f"notice {notice.id} reached nobody ({' → '.join(notice.rungs)})"
        await self._history(customer, "уведомление не доставлено ни одним способом")
        if self._owner_notify is not None:
            await self._owner_notify(OwnerNote("undeliverable", customer, note))

    async def _history(self, customer: str, note: str) -> None:
        await self._store.history.append(customer, HistoryEntry(
            ts=self._clock(), channel="-", direction="event", text="", note=note))


def _is_messenger(name: str) -> bool:
    info = INSTALLED.get(name)
    return name == MESSENGER or (info is not None and not info.capabilities.send_only)


def rung_title(rung: str) -> str:
    """How the owner reads a rung: «мессенджер» (the last active one) or the channel's name."""
    info = INSTALLED.get(rung)
    return "мессенджер" if info is None else info.title


def waits_for_morning(rung: str) -> bool:
    """SMS and e-mail (send-only channels) keep the night rule; a messenger does not."""
    info = INSTALLED.get(rung)
    return info is not None and info.capabilities.send_only
