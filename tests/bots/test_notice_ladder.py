"""bots.ladder end to end (issue 14): a critical reminder MAX cannot deliver (the customer
blocked the bot) reaches the SMS provider with the customer's phone; unanswered, an e-mail
reaches a real SMTP server; the customer answers in VK and the ladder stops. Never two SMS
for one notice, even when two processes climb at once. The SMS provider and the SMTP server
are the fakes of tests/fakes (SMS.ru's wire format; aiosmtpd)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from bots_harness import ZONE, Harness, harness  # noqa: F401 - the fixture

from bots.delivery import Delivery
from bots.ladder import NOTICE_TEXT_WAIT, Ladder, notice_id_of
from bots.ladder_sends import STALE_CLAIM
from bots.owner import OwnerNote
from bots.spare import Spare
from bots.texts import NOTICE_FALLBACK
from connectors.email import EmailSender, EmailSettings
from connectors.sms.smsc import Smsc
from connectors.sms.smsru import SmsRu
from flows.climb import quiet_until
from flows.types import Ladder as Plan
from flows.types import StartEvent, TextEvent, TimerEvent
from tests.connectors.sms_helpers import FAST
from tests.fakes.smsc import SmscFake, smsc_fake_fixture  # noqa: F401 - provides smsc_fake
from tests.fakes.smsru import SmsRuFake, smsru_fake_fixture  # noqa: F401 - provides smsru_fake
from tests.fakes.smtp import SmtpFake, start_smtp

PHONE, EMAIL = "+79161234567", "maria@example.ru"
PLAN = Plan(rungs=("messenger", "sms", "email"), within=timedelta(hours=2), urgent=True)
EVENT_ID = "timer:visit-24h:2026-12-05T10:00:00+03:00"


@dataclass
class Bench:
    harness: Harness
    ladder: Ladder
    sms: SmsRuFake
    smtp: SmtpFake
    customer: str

    async def fire(self, plan: Plan = PLAN) -> str:
        """What bots.firing does for a critical reminder: open the notice, inject the timer."""
        await self.ladder.open(self.customer, EVENT_ID, plan)
        await self.harness.runtime.inject(self.customer, TimerEvent("ping", "visit-24h", {}),
                                          event_id=EVENT_ID)
        await self.harness.runtime.idle()
        notice_id = notice_id_of(EVENT_ID)
        assert notice_id is not None
        return notice_id

    async def within_passes(self, notice_id: str) -> None:
        """The notice's ``within`` ran out (its check made due now)."""
        now = time.time()
        await self.harness.store.notices.reschedule(self.customer, notice_id, now - 1, now)

    def another(self, clock: Callable[[], float] = time.time) -> Ladder:
        """A second process's ladder on the same Redis and senders (``clock``: its time)."""
        h = self.harness
        return Ladder(store=h.store, delivery=Delivery(store=h.store, connectors=h.channels,
                                                       metrics=h.metrics),
                      spare=self.ladder._sends._spare, metrics=h.metrics, zone=ZONE,
                      owner_notify=None, clock=clock)

    async def history_notes(self) -> list[str]:
        entries = await self.harness.store.history.read(self.customer)
        return [e.note for e in entries if e.direction == "event" and e.note]


@pytest.fixture
async def bench(harness: Harness, smsru_fake: SmsRuFake) -> AsyncIterator[Bench]:  # noqa: F811
    smtp = await start_smtp()
    spare = Spare(
        sms=SmsRu(api_id=smsru_fake.api_id, sender="SVYAZ", base_url=smsru_fake.url),
        email=EmailSender(EmailSettings.from_url(f"smtp://127.0.0.1:{smtp.port}",
                                                 mail_from="Салон <noreply@shop.test>")),
    )

    async def note(n: OwnerNote) -> None:
        harness.owner_notes.append(n)

    delivery = Delivery(store=harness.store, connectors=harness.channels,
                        metrics=harness.metrics)
    ladder = Ladder(store=harness.store, delivery=delivery, spare=spare,
                    metrics=harness.metrics, zone=ZONE, owner_notify=note)
    harness.runtime.turns._notices = ladder  # (app.py passes it at assembly)
    await harness.send("max", "m1", StartEvent())
    customer = await harness.customer("max", "m1")
    store = harness.store
    await store.profiles.record_consent(customer, True, "v1", datetime.now(ZONE), "max")
    await store.profiles.set_field(customer, "phone", PHONE)
    await store.profiles.set_field(customer, "email", EMAIL)
    await store.identities.attach("vk:v1", customer, time.time() - 60)  # linked earlier
    harness.channels["max"].refuse.add("m1")  # the customer blocked the bot in MAX
    harness.channels["vk"].refuse.add("v1")  # and VK cannot reach them either
    yield Bench(harness, ladder, smsru_fake, smtp, customer)
    await spare.close()
    await smtp.stop()


async def test_blocked_in_max_then_sms_then_email_then_an_answer_in_vk_stops_it(
    bench: Bench,
) -> None:
    notice_id = await bench.fire()
    assert "Напоминание!" not in bench.harness.texts("max")  # MAX refused the reminder
    assert bench.harness.owner_notes == []  # not "undeliverable": the ladder has it
    await bench.ladder.climb_due()
    sent = list(bench.sms.messages.values())
    assert [(m.to.lstrip("+"), m.text) for m in sent] == [(PHONE[1:], "Напоминание!")]
    assert bench.smtp.received == []
    await bench.ladder.climb_due()  # within has not passed: nothing more
    assert len(bench.sms.messages) == 1
    assert bench.smtp.received == []
    await bench.within_passes(notice_id)  # no answer
    await bench.ladder.climb_due()
    assert len(bench.smtp.received) == 1
    mail = bench.smtp.received[0]
    assert mail.rcpt_tos == (EMAIL,)
    assert "Напоминание!" in mail.message().get_body(("plain",)).get_content()
    await bench.harness.send("vk", "v1", TextEvent("Спасибо, буду"))  # the customer answers
    await bench.within_passes(notice_id)
    await bench.ladder.climb_due()
    notice = await bench.harness.store.notices.get(bench.customer, notice_id)
    assert notice is not None
    assert notice.state == "answered"
    assert len(bench.sms.messages) == 1
    assert len(bench.smtp.received) == 1
    assert bench.harness.owner_notes == []
    assert await bench.history_notes() == [
        "reminder visit-24h fired (ping)", "уведомление не ушло: мессенджер",
        "уведомление отправлено: SMS", "уведомление отправлено: электронная почта",
        "клиент ответил: уведомление остановлено"]


async def test_two_processes_climbing_at_once_send_one_sms(bench: Bench) -> None:
    await bench.fire()
    other = bench.another()
    await asyncio.gather(bench.ladder.climb_due(), other.climb_due(), bench.ladder.climb_due())
    assert len(bench.sms.messages) == 1
    await bench.within_passes(notice_id_of(EVENT_ID) or "")
    await asyncio.gather(bench.ladder.climb_due(), other.climb_due(), bench.ladder.climb_due())
    assert len(bench.smtp.received) == 1  # and one e-mail


async def test_an_sms_whose_fate_is_unknown_is_not_sent_again(bench: Bench) -> None:
    """The provider took the request and the answer never came: the ladder goes to e-mail
    rather than risk a second paid SMS."""
    bench.sms.drop()  # accepted, then the connection is cut
    await bench.fire()
    await bench.ladder.climb_due()
    assert len(bench.sms.messages) == 1  # it did go out
    await bench.ladder.climb_due()
    assert len(bench.sms.messages) == 1
    assert len(bench.smtp.received) == 1
    assert bench.harness.metrics.registry.get_sample_value("svyaz_sms_doubt_total") == 1.0


async def test_nobody_reached_the_owner_hears(bench: Bench) -> None:
    plan = Plan(rungs=("messenger", "sms"), within=timedelta(hours=2), urgent=True)
    await bench.harness.store.profiles.record_consent(bench.customer, False, "v1",
                                                      datetime.now(ZONE), "max")
    notice_id = await bench.fire(plan)  # consent withdrawn: no phone to use
    await bench.ladder.climb_due()
    await bench.ladder.climb_due()
    assert bench.sms.messages == {}
    notice = await bench.harness.store.notices.get(bench.customer, notice_id)
    assert notice is not None
    assert notice.state == "exhausted"
    assert [n.kind for n in bench.harness.owner_notes] == ["undeliverable"]


def test_sms_and_email_wait_for_the_morning_unless_urgent() -> None:
    evening = datetime(2026, 12, 4, 22, 30, tzinfo=ZONE)
    assert quiet_until(evening) == datetime(2026, 12, 5, 9, 0, tzinfo=ZONE)
    assert quiet_until(evening.replace(hour=3)) == datetime(2026, 12, 4, 9, 0, tzinfo=ZONE)
    assert quiet_until(evening.replace(hour=9)) is None
    assert quiet_until(evening.replace(hour=20, minute=59)) is None


async def test_a_delivered_reminder_waits_within_and_an_answer_ends_it(bench: Bench) -> None:
    bench.harness.channels["max"].refuse.clear()  # MAX works today
    notice_id = await bench.fire()
    assert "Напоминание!" in bench.harness.texts("max")[-2:]
    await bench.ladder.climb_due()
    assert bench.sms.messages == {}  # within has not passed
    await bench.harness.send("max", "m1", TextEvent("Приду"))
    await bench.within_passes(notice_id)
    await bench.ladder.climb_due()
    notice = await bench.harness.store.notices.get(bench.customer, notice_id)
    assert notice is not None
    assert notice.state == "answered"
    assert bench.sms.messages == {}
    assert bench.smtp.received == []


async def test_until_delivered_ends_once_a_messenger_took_it(bench: Bench) -> None:
    bench.harness.channels["max"].refuse.clear()
    notice_id = await bench.fire(Plan(rungs=("messenger", "sms"), until="delivered"))
    notice = await bench.harness.store.notices.get(bench.customer, notice_id)
    assert notice is not None
    assert notice.state == "delivered"
    await bench.within_passes(notice_id)
    await bench.ladder.climb_due()
    assert bench.sms.messages == {}


async def test_a_notice_that_went_out_unanswered_is_history_not_an_alarm(bench: Bench) -> None:
    bench.harness.channels["max"].refuse.clear()
    notice_id = await bench.fire(Plan(rungs=("messenger",)))
    await bench.within_passes(notice_id)
    await bench.ladder.climb_due()
    notice = await bench.harness.store.notices.get(bench.customer, notice_id)
    assert notice is not None
    assert notice.state == "exhausted"
    assert bench.harness.owner_notes == []
    assert (await bench.history_notes())[-1] == "клиент не ответил на уведомление"


async def test_a_later_messenger_rung_goes_out_once_from_two_climbers(bench: Bench) -> None:
    bench.harness.channels["max"].refuse.clear()
    notice_id = await bench.fire(Plan(rungs=("sms", "messenger"), urgent=True))
    await bench.ladder.climb_due()  # the ladder starts with the SMS
    assert len(bench.sms.messages) == 1
    before = bench.harness.texts("max").count("Напоминание!")
    await bench.within_passes(notice_id)
    other = bench.another()
    await asyncio.gather(bench.ladder.climb_due(), other.climb_due())
    assert bench.harness.texts("max").count("Напоминание!") == before + 1


async def test_a_notice_whose_reminder_never_told_its_text_waits_then_sends_the_fallback(
    bench: Bench,
) -> None:
    """The process died between opening the notice and the reminder's turn: no empty SMS;
    after NOTICE_TEXT_WAIT the fallback text goes."""
    await bench.ladder.open(bench.customer, EVENT_ID, Plan(rungs=("sms",), urgent=True))
    await bench.within_passes(notice_id_of(EVENT_ID) or "")
    await bench.ladder.climb_due()
    assert bench.sms.messages == {}
    later = bench.another(lambda: time.time() + NOTICE_TEXT_WAIT + 60)
    await later.climb_due()
    assert [m.text for m in bench.sms.messages.values()] == [NOTICE_FALLBACK]


async def test_the_plan_is_written_with_the_notice(bench: Bench) -> None:
    await bench.ladder.open(bench.customer, EVENT_ID,
                            Plan(rungs=("sms",), until="delivered", urgent=True,
                                 within=timedelta(minutes=45)))
    notice = await bench.harness.store.notices.get(bench.customer, notice_id_of(EVENT_ID) or "")
    assert notice is not None
    assert (notice.until, notice.within, notice.urgent) == ("delivered", 2700.0, True)


async def test_the_providers_rate_limit_delays_the_sms_instead_of_skipping_it(
    bench: Bench,
) -> None:
    """Found by the ladder drill: a 429 sent the ladder straight to e-mail."""
    bench.sms.answer_http(429, retry_after=1)
    notice_id = await bench.fire()
    await bench.ladder.climb_due()  # the messenger failed: the SMS rung, refused for now
    assert bench.sms.messages == {}
    notice = await bench.harness.store.notices.get(bench.customer, notice_id)
    assert notice is not None
    assert notice.current == "sms"
    later = bench.another(lambda: time.time() + 5)
    await later.climb_due()
    assert len(bench.sms.messages) == 1
    assert bench.smtp.received == []


async def test_an_sms_claimed_by_a_process_that_died_is_not_resent_and_waits_before_email(
    bench: Bench,
) -> None:
    """Found by the ladder drill (read): a rung left claimed was passed at once, so a live
    process still sending its SMS could be overtaken by the e-mail."""
    notice_id = await bench.fire(Plan(rungs=("messenger", "sms", "email"), urgent=True))
    store = bench.harness.store
    notice = await store.notices.advance(bench.customer, notice_id, 0, time.time())
    assert notice is not None
    assert notice.current == "sms"
    assert (await store.notices.claim(bench.customer, notice_id, 1, "dead", time.time())).won
    await bench.ladder.climb_due()  # the claim is fresh: its process may be sending now
    assert bench.sms.messages == {}
    assert bench.smtp.received == []
    later = bench.another(lambda: time.time() + STALE_CLAIM + 60)
    await later.climb_due()
    assert bench.sms.messages == {}  # never sent again
    assert len(bench.smtp.received) == 1
    assert bench.harness.metrics.registry.get_sample_value("svyaz_sms_doubt_total") == 1.0


async def test_a_rung_naming_a_messenger_goes_to_that_messenger_only(bench: Bench) -> None:
    h = bench.harness
    await h.store.identities.attach("web:w1", bench.customer, time.time())  # the latest one
    h.channels["web"].refuse.add("w1")
    await bench.fire(Plan(rungs=("messenger", "vk", "sms"), within=timedelta(hours=2),
                          urgent=True))
    h.channels["web"].refuse.clear()
    h.channels["vk"].refuse.clear()
    await bench.ladder.climb_due()
    assert h.channels["vk"].texts("v1") == ["Напоминание!"]
    assert h.channels["web"].texts() == []  # the most recent account, but not the rung's
    assert bench.sms.messages == {}
    assert (await bench.history_notes())[-1] == "уведомление отправлено: ВКонтакте"


async def test_a_rung_naming_a_messenger_the_customer_is_not_on_climbs_on(
    bench: Bench,
) -> None:
    await bench.fire(Plan(rungs=("messenger", "web", "sms"), within=timedelta(hours=2),
                          urgent=True))
    await bench.ladder.climb_due()  # no web account: on to SMS at once
    await bench.ladder.climb_due()
    assert [m.text for m in bench.sms.messages.values()] == ["Напоминание!"]
    assert "уведомление не ушло: чат на сайте" in await bench.history_notes()


async def test_an_smsc_send_whose_answer_was_lost_is_asked_after_and_counts_as_sent(
    bench: Bench, smsc_fake: SmscFake,  # noqa: F811
) -> None:
    """SMSC takes the id the adapter chose, so a lost answer is resolved by asking
    status.php: the SMS went, nothing is sent twice and no e-mail goes for doubt."""
    smsc = Smsc(login=smsc_fake.login, password=smsc_fake.password, base_url=smsc_fake.url,
                retry=FAST, timeout=0.5)
    h = bench.harness
    ladder = Ladder(store=h.store, delivery=Delivery(store=h.store, connectors=h.channels,
                                                     metrics=h.metrics),
                    spare=Spare(sms=smsc, email=bench.ladder._sends._spare.email),
                    metrics=h.metrics, zone=ZONE, owner_notify=None)
    h.runtime.turns._notices = ladder
    bench.ladder = ladder
    smsc_fake.drop()  # accepted, then the connection is cut
    notice_id = await bench.fire()
    await ladder.climb_due()
    await ladder.climb_due()
    assert len(smsc_fake.messages) == 1
    assert bench.smtp.received == []  # within has not passed: the SMS counts as sent
    notice = await h.store.notices.get(bench.customer, notice_id)
    assert notice is not None
    assert notice.outcomes[1] is not None
    assert (notice.outcomes[1].status, notice.outcomes[1].provider) == ("sent", "smsc")
    assert h.metrics.registry.get_sample_value("svyaz_sms_doubt_total") in (None, 0.0)
    await smsc.close()
