"""Key layout: one prefix per bot, every key a customer owns in one cluster slot."""

from __future__ import annotations

import pytest
from redis.crc import key_slot as redis_key_slot
from storage_helpers import crc16, key_slot, namespace_keys

from flows.types import DialogState, Frame, Inbound, Reply, TextEvent
from storage.history import HistoryEntry
from storage.keys import OUTBOX_SHARDS, Keys
from storage.store import Store


def test_crc16_matches_the_reference_vector_and_redis() -> None:
    assert crc16(b"123456789") == 0x31C3  # the CRC16/XMODEM check value Redis documents
    for key in ("svyaz:main:{c:abc}:state", "foo", "{user1000}.following", "a{}b"):
        assert key_slot(key) == redis_key_slot(key.encode())


def test_every_customer_key_shares_one_slot() -> None:
    keys = Keys("shop")
    for customer in ("a", "abcDEF123_-", "x" * 64):
        slots = {key_slot(k) for k in keys.customer_keys(customer)}
        assert len(slots) == 1, slots
        assert all(k.startswith("svyaz:shop:{c:") for k in keys.customer_keys(customer))


def test_customers_spread_over_slots() -> None:
    keys = Keys("main")
    slots = {key_slot(keys.state(f"cust{i}")) for i in range(200)}
    assert len(slots) > 150


def test_global_keys_are_one_small_key_each_and_spread() -> None:
    keys = Keys("main")
    slots = {key_slot(keys.account(f"vk:{i}")) for i in range(200)}
    assert len(slots) > 150
    assert keys.link_token("secret-token") != keys.link_token("other")
    assert "secret-token" not in keys.link_token("secret-token")
    for shard in (None, *range(OUTBOX_SHARDS)):  # each shard's keys in one slot
        assert len({key_slot(k) for k in keys.outbox(shard)}) == 1
    assert len({key_slot(keys.outbox(n).data) for n in range(OUTBOX_SHARDS)}) == OUTBOX_SHARDS


def test_scheduler_and_web_relay_keys_keep_their_hash_tags() -> None:
    keys = Keys("shop")
    sched = {keys.sched_jobs, keys.sched_run_times, keys.sched_leader}
    assert {key_slot(k) for k in sched} == {key_slot("{sched}")}
    assert all(k.startswith("svyaz:shop:{sched}:") for k in sched)
    customer = {keys.state("c1"), keys.reminder_records("c1"), keys.reminder_claim("c1", "k", "t")}
    assert len({key_slot(k) for k in customer}) == 1
    assert keys.reminder_claim("c1", "k", "t") == "svyaz:shop:{c:c1}:fired:k:t"
    assert keys.customer_of_key(keys.reminder_records("c1")) == "c1"
    assert keys.reminder_records_pattern == "svyaz:shop:{c:*}:remdata"
    web = {keys.web_bus, keys.web_delivered("m1")}
    assert {key_slot(k) for k in web} == {key_slot("{web}")}
    assert keys.web_delivered("m1") == "svyaz:shop:{web}:sent:m1"


@pytest.mark.parametrize("bad", ["", "*", "a}b", "a{b", "a:b", "a b", "x" * 65, "ж"])
def test_customer_ids_that_would_break_the_tag_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="customer id"):
        Keys("main").state(bad)


def test_bot_prefix_is_validated() -> None:
    assert Keys("b1").prefix == "svyaz:b1:"
    with pytest.raises(ValueError, match="bot"):
        Keys("a:b")


async def test_every_key_actually_written_for_a_customer_is_in_its_slot(store: Store) -> None:
    customer = await store.identities.resolve("vk:1", name="Аня")
    await store.identities.resolve("vk:1")
    async with store.states.lock(customer) as lock:
        entry = await store.inbox.push(
            customer, Inbound(channel="vk", user_id="1", event_id="e1", event=TextEvent("hi"))
        )
        state = DialogState(stack=(Frame(f="booking", s="day"),), vars={"service": "cut"})
        await store.states.save(customer, state, version=0, lock=lock)
        await store.inbox.push(
            customer, Inbound(channel="vk", user_id="1", event_id="e2", event=TextEvent("x"))
        )
        await store.inbox.done(customer, entry)
        await store.history.append(customer, HistoryEntry(1.0, "vk", "in", "hi"))
        await store.profiles.set_field(customer, "phone", "+7 999 123-45-67")
        await store.reminders.add(customer, "visit")
        await store.identities.issue_link_token(customer)
        await store.identities.issue_link_code(customer)
        await store.outbox.put(customer, "vk", "1", Reply("hello"))
        tag = store.keys.tag(customer)
        owned = [k for k in await namespace_keys(store) if k.startswith(tag)]
        assert len(owned) >= 7
        assert {key_slot(k) for k in owned} == {key_slot(store.keys.state(customer))}
        assert set(owned) <= set(store.keys.customer_keys(customer))


def test_customer_id_is_read_back_from_key_names() -> None:
    keys = Keys("b")
    assert keys.customer_of_key(keys.history("Ab_-9")) == "Ab_-9"
    assert keys.customer_of_key(keys.account("vk:1")) == ""
    assert keys.customer_of_key("svyaz:other:{c:x}:history") == ""


def test_a_customers_hash_tag_is_checked_and_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A turn names ~18 keys of its customer: the tag is built once and read back after;
    each bot has its own, and a bad id is refused every time (never kept)."""
    import storage.keyparts

    monkeypatch.setattr(storage.keyparts, "TAGS_KEPT", 2)
    storage.keyparts.TAGS.clear()
    shop, main = Keys("shop"), Keys()
    first = shop.tag("c1")
    assert shop.state("c1") == "svyaz:shop:{c:c1}:state"
    assert shop.tag("c1") is first
    assert main.tag("c1") == "svyaz:main:{c:c1}"
    assert shop.tag("c2") == "svyaz:shop:{c:c2}"  # full: the kept tags were let go
    assert list(storage.keyparts.TAGS) == [("shop", "c2")]
    for _ in range(2):
        with pytest.raises(ValueError, match="customer id"):
            shop.tag("a}b")
