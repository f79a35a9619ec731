"""storage.reminders: records, their index and their jobs written together; forget if same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.cluster import key_slot

from storage.keys import Keys
from storage.reminders import HDelIfSame, Record, ReminderRecords, StagedJob
from storage.store import Store

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _record(key: str = "visit", at: datetime = AT) -> Record:
    return Record(key, "ping", at, {"n": 1, "имя": "Аня"})


async def test_put_writes_record_index_and_job_then_delete_drops_them(store: Store) -> None:
    records = ReminderRecords(store.redis, store.keys)
    await records.put("c1", _record(), StagedJob("c1:visit", b"state", 1.5), new=True)
    await records.put("c1", _record("call", AT - timedelta(days=1)),
                      StagedJob("c1:call", b"s2", None), new=True)
    assert [r.key for r in await records.of_customer("c1")] == ["call", "visit"]  # soonest first
    assert await store.reminders.list("c1") == ["call", "visit"]
    assert await records.job_ids() == {"c1:visit", "c1:call"}
    assert await store.redis.zrange(store.keys.sched_run_times, 0, -1, withscores=True) == [
        (b"c1:visit", 1.5)]
    stored = await records.get("c1", "visit")
    assert stored is not None
    assert stored.record == _record()
    assert sorted(await records.keys_of("c1")) == ["call", "visit"]
    assert sorted([(c, r.key) async for c, r in records.every()]) == [("c1", "call"),
                                                                       ("c1", "visit")]
    assert await records.delete("c1", "visit") is True
    assert await records.delete("c1", "visit") is False
    assert await records.get("c1", "visit") is None
    assert await store.reminders.list("c1") == ["call"]


async def test_a_job_alone_leaves_record_and_index_as_they_are(store: Store) -> None:
    records = ReminderRecords(store.redis, store.keys)
    await records.put("c1", _record(), StagedJob("c1:visit", b"state", 2.0), new=False)
    assert await records.get("c1", "visit") is None
    assert await store.reminders.list("c1") == []
    assert await records.job_ids() == {"c1:visit"}


async def test_forget_if_same_keeps_a_record_rescheduled_meanwhile(store: Store) -> None:
    records = ReminderRecords(store.redis, store.keys)
    job = StagedJob("c1:visit", b"state", 1.0)
    await records.put("c1", _record(), job, new=True)
    old = await records.get("c1", "visit")
    assert old is not None
    await records.put("c1", _record(at=AT + timedelta(hours=1)), job, new=True)  # moved
    await records.forget_if_same("c1", old)
    assert await records.get("c1", "visit") is not None
    assert await store.reminders.list("c1") == ["visit"]
    current = await records.get("c1", "visit")
    assert current is not None
    await records.forget_if_same("c1", current)
    assert await records.get("c1", "visit") is None
    assert await store.reminders.list("c1") == []


def test_hdel_if_same_keeps_its_keys_in_one_cluster_slot() -> None:
    script = HDelIfSame(Keys("b").reminder_records("c1"), "visit", "{}")
    assert len({key_slot(k.encode()) for k in script.key_list()}) == 1
    assert script.key_list() == [Keys("b").reminder_records("c1")]
