"""History: append/read, retention, export (JSONL, CSV), complete erasure."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from storage_helpers import namespace_keys

from flows.types import Button, DialogState, Inbound, Reply, TextEvent
from storage.history import HistoryEntry
from storage.notices import Sent
from storage.store import Store
from tests.redeem import redeem_link_code, redeem_link_token


def _entry(ts: float, text: str, direction: str = "in") -> HistoryEntry:
    return HistoryEntry(ts, "vk", direction, text)  # type: ignore[arg-type]


async def test_append_and_read_last_entries(store: Store) -> None:
    entry = HistoryEntry(1700000000.123, "max", "out", "Привет, «мир»", ("Да", "Нет"), "n")
    await store.history.append("c1", entry)
    for i in range(5):
        await store.history.append("c1", _entry(1700000001 + i, f"m{i}"))
    assert (await store.history.read("c1", count=10))[0] == entry
    assert [e.text for e in await store.history.read("c1", count=2)] == ["m3", "m4"]
    assert await store.history.read("nobody") == []


async def test_retention_by_length(store: Store) -> None:
    store.history.maxlen = 10
    for i in range(300):
        await store.history.append("c1", _entry(i, f"m{i}"))
    length = await store.redis.xlen(store.keys.history("c1"))
    assert 10 <= length < 250  # approximate trimming works per stream node
    assert (await store.history.read("c1", count=1))[0].text == "m299"


async def test_retention_by_age(store: Store) -> None:
    await store.redis.xadd(store.keys.history("c1"), _entry(1, "ancient").to_fields(), id="1-1")
    await store.history.append("c1", _entry(2, "recent"))
    store.history.max_age = 3600.0
    await store.history.append("c1", _entry(3, "new"))
    assert [e.text for e in await store.history.read("c1")] == ["recent", "new"]


async def _two_customers(store: Store) -> tuple[str, str]:
    a = await store.identities.resolve("vk:1")
    b = await store.identities.resolve("web:s")
    await store.history.append(a, HistoryEntry(1700000000.5, "vk", "in", 'Запись, "завтра"\n'))
    await store.history.append(a, HistoryEntry(1700000001.0, "vk", "out", "Когда?", ("Утро",)))
    await store.history.append(b, HistoryEntry(1700000002.0, "web", "event", "", note="start"))
    return a, b


async def test_export_jsonl_of_one_and_of_all(store: Store) -> None:
    a, b = await _two_customers(store)
    out = io.StringIO()
    assert await store.history.export(a, "jsonl", out) == 2
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0]["text"] == 'Запись, "завтра"\n'
    assert rows[1]["buttons"] == ["Утро"]
    assert rows[0]["time"] == datetime.fromtimestamp(1700000000.5, UTC).isoformat(
        timespec="milliseconds"
    )
    out = io.StringIO()
    assert await store.history.export(None, "jsonl", out) == 3
    assert {json.loads(line)["customer"] for line in out.getvalue().splitlines()} == {a, b}


async def test_export_csv(store: Store) -> None:
    a, _ = await _two_customers(store)
    out = io.StringIO()
    assert await store.history.export(None, "csv", out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    mine = [r for r in rows if r["customer"] == a]
    assert [r["text"] for r in mine] == ['Запись, "завтра"\n', "Когда?"]
    assert mine[1]["buttons"] == "Утро"
    assert rows[0].keys() == {"customer", "time", "channel", "direction", "text", "buttons", "note",
                              "attachments"}


async def test_export_rejects_unknown_format(store: Store) -> None:
    with pytest.raises(ValueError, match="format"):
        await store.history.export(None, "xml", io.StringIO())  # type: ignore[arg-type]


async def test_forget_leaves_no_key_and_no_pointer(store: Store) -> None:
    gone = await store.identities.resolve("vk:1", name="Аня")
    kept = await store.identities.resolve("vk:2")
    other = await store.identities.resolve("web:x")
    token = await store.identities.issue_link_token(gone)
    await redeem_link_token(store.identities, token, "max:1")  # a second account
    await store.identities.merge(gone, other)
    await store.identities.issue_link_token(gone)
    await store.identities.issue_link_code(gone)
    await redeem_link_code(store.identities, "000000", "vk:1")  # a failure counter of an account
    await store.profiles.set_field(gone, "phone", "+79991234567")
    await store.profiles.record_consent(gone, True, "v1", datetime.now(UTC), "vk")
    await store.history.append(gone, _entry(1, "secret"))
    await store.inbox.push(gone, Inbound("vk", "1", "e", TextEvent("pending")))
    await store.reminders.add(gone, "visit")
    await store.outbox.put(gone, "vk", "1", Reply("unsent"))
    await store.redis.set(store.keys.tag(gone) + ":remdata", "scheduler keeps its own keys")
    await store.dedupe.first_seen(f"bot:{gone}:timer-1")  # the runtime's bot-initiated events
    await store.notices.open(gone, "visit:1", ["sms", "email"], 1.0)  # a notice, its SMS sent
    await store.notices.claim(gone, "visit:1", 0, "t", 2.0)
    await store.notices.settle(gone, "visit:1", 0, "t", Sent("smsru", "sms-1"), 3.0)
    await store.notices.quota.take_sms(gone, "2027-01-15", "2027-01", 3, None, 1)
    async with store.states.lock(gone) as lock:
        await store.states.save(gone, DialogState(vars={"a": 1}), version=0, lock=lock)
    await store.history.append(kept, _entry(2, "other customer"))

    assert await store.history.forget(gone) == ["visit"]

    assert await store.identities.customer_of("vk:1") is None
    assert await store.identities.customer_of("max:1") is None
    assert await store.identities.customer_of("vk:2") == kept
    assert await store.profiles.find_by_phone("+79991234567") is None
    for key in await namespace_keys(store):
        assert gone not in key, key
        assert other not in key, key
        if await store.redis.type(key) in (b"string", "string"):
            value = await store.redis.get(key)
            assert gone.encode() not in (value or b""), key
    for entry in await store.outbox.pending():
        assert entry.customer != gone
    assert await store.notices.sms("smsru", "sms-1") is None  # the global indexes too
    assert not [m for m in await store.redis.zrange(store.keys.notices_due, 0, -1)
                if gone.encode() in m]
    assert gone not in await store.inbox.customers_with_pending()
    assert gone not in await store.history.customers()
    assert [e.text for e in await store.history.read(kept)] == ["other customer"]


async def test_export_all_finds_a_customer_missing_from_the_registry(store: Store) -> None:
    await store.history.append("orphan", _entry(1, "kept anyway"))
    out = io.StringIO()
    assert await store.history.export(None, "jsonl", out) == 1
    assert json.loads(out.getvalue())["customer"] == "orphan"


async def test_outgoing_buttons_keep_ids_and_links(store: Store) -> None:
    keyboard = (Button("book", "Записаться"), Button("site", "Сайт", "https://example.ru"))
    entry = HistoryEntry(1700000000.0, "web", "out", "Что дальше?", keyboard=keyboard)
    assert entry.buttons == ("Записаться", "Сайт")
    await store.history.append("c1", entry)
    (back,) = await store.history.read("c1")
    assert back == entry
    assert back.keyboard == keyboard


async def test_entries_stored_before_ids_were_kept_still_read(store: Store) -> None:
    old = {"ms": "1700000000000", "ch": "vk", "d": "out", "t": "Когда?",
           "b": json.dumps(["Утро", "Вечер"]), "n": ""}  # the format older versions wrote
    await store.redis.xadd(store.keys.history("c1"), old)  # type: ignore[arg-type]
    (entry,) = await store.history.read("c1")
    assert (entry.buttons, entry.keyboard) == (("Утро", "Вечер"), ())
