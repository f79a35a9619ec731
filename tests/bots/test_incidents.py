"""bots.incidents: a bot-wide trouble (a channel down, Redis near full, the SMS balance empty
or its monthly budget spent) is told to the owner once per incident — of two processes
looking, one tells — shown in /healthz while open, and its end is told once too."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from bots_harness import ZONE, Harness

from bots.delivery import Delivery
from bots.incidents import STREAK, Incidents, incident_text
from bots.ladder import Ladder
from bots.owner import OwnerNote
from bots.spare import Spare
from connectors.sms.smsru import SmsRu
from storage.embedded import EmbeddedRedis
from storage.store import Store
from tests.fakes.smsru import SmsRuFake, smsru_fake_fixture  # noqa: F401 - provides smsru_fake


class Broken:
    """A connector's health as a refused token shows it."""

    def __init__(self) -> None:
        self.ok = True

    def health(self) -> dict[str, str | bool]:
        return {"ok": self.ok, "mode": "webhook", "detail": "" if self.ok else "401 Unauthorized"}


def _incidents(store: Store, notes: list[OwnerNote], vk: Broken) -> Incidents:
    async def note(n: OwnerNote) -> None:
        notes.append(n)

    return Incidents(store=store, connectors={"vk": vk}, notify=note)  # type: ignore[dict-item]


async def test_a_channel_down_is_told_once_by_one_of_two_processes(harness: Harness) -> None:
    notes: list[OwnerNote] = []
    vk = Broken()
    one, two = _incidents(harness.store, notes, vk), _incidents(harness.store, notes, vk)
    vk.ok = False
    await one.look()  # one failed look is no alarm
    assert notes == []
    for _ in range(STREAK):
        await asyncio.gather(one.look(), two.look())
    assert [(n.kind, n.customer) for n in notes] == [("incident", "")]
    assert "ВКонтакте: канал не работает (401 Unauthorized)" in notes[0].text()
    [open_] = await harness.store.incidents.current()
    assert open_.kind == "channel:vk"
    vk.ok = True
    await asyncio.gather(one.look(), two.look())
    assert [n.kind for n in notes] == ["incident", "resolved"]
    assert await harness.store.incidents.current() == []


async def test_redis_near_its_memory_limit_is_an_incident(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    url = await asyncio.to_thread(server.start)
    store = Store.from_url(url)
    notes: list[OwnerNote] = []
    try:
        incidents = _incidents(store, notes, Broken())
        used, _ = await store.incidents.memory()
        await store.redis.config_set("maxmemory", str(int(used / 0.95)))
        await incidents.look()
        await incidents.look()  # still full: told once
        assert [n.kind for n in notes] == ["incident"]
        assert "База почти заполнена" in notes[0].text()
        await store.redis.config_set("maxmemory", str(used * 4))
        await incidents.look()
        assert [n.kind for n in notes] == ["incident", "resolved"]
    finally:
        await store.close()
        await asyncio.to_thread(server.stop)


async def test_an_empty_sms_balance_is_told_once_and_its_end_too(
    harness: Harness, smsru_fake: SmsRuFake,
) -> None:
    notes: list[OwnerNote] = []
    watch = _incidents(harness.store, notes, Broken())
    spare = Spare(sms=SmsRu(api_id=smsru_fake.api_id, sender="SVYAZ", base_url=smsru_fake.url),
                  email=None)
    ladder = Ladder(store=harness.store, delivery=Delivery(
        store=harness.store, connectors=harness.channels, metrics=harness.metrics),
        spare=spare, metrics=harness.metrics, zone=ZONE, owner_notify=None, watch=watch)
    sends = ladder._sends
    store = harness.store
    now = datetime.now(ZONE)
    smsru_fake.refuse(201, times=2)  # «Не хватает средств на лицевом счету»
    for n in range(3):
        await store.notices.open(f"c{n}", "n1", ["sms"], now.timestamp())
        await store.notices.texts.keep(f"c{n}", "n1", "Напоминание!")
        await sends.sms((await store.notices.get(f"c{n}", "n1")), now,  # type: ignore[arg-type]
                        "+79161234567")
    assert [n.kind for n in notes] == ["incident", "resolved"]  # two refusals, then one went
    assert notes[0].text().endswith(incident_text("sms:balance"))
    await spare.close()


async def test_a_spent_sms_budget_is_told_once(
    harness: Harness, smsru_fake: SmsRuFake,
) -> None:
    notes: list[OwnerNote] = []
    watch = _incidents(harness.store, notes, Broken())
    spare = Spare(sms=SmsRu(api_id=smsru_fake.api_id, sender="SVYAZ", base_url=smsru_fake.url),
                  email=None, sms_monthly_budget=1)
    ladder = Ladder(store=harness.store, delivery=Delivery(
        store=harness.store, connectors=harness.channels, metrics=harness.metrics),
        spare=spare, metrics=harness.metrics, zone=ZONE, owner_notify=None, watch=watch)
    store, now = harness.store, datetime.now(ZONE)
    for n in range(3):  # one within the budget, then two past it
        await store.notices.open(f"c{n}", "n1", ["sms"], now.timestamp())
        await store.notices.texts.keep(f"c{n}", "n1", "Напоминание!")
        await ladder._sends.sms((await store.notices.get(f"c{n}", "n1")),  # type: ignore[arg-type]
                                now, "+79161234567")
    assert len(smsru_fake.messages) == 1
    assert [n.kind for n in notes] == ["incident"]  # once, though refused twice
    assert notes[0].text().endswith(incident_text("sms:budget"))
    assert [i.kind for i in await store.incidents.current()] == ["sms:budget"]
    await spare.close()
