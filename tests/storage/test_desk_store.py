"""storage.desk: operators, failed logins, the audit log, hand-offs and claims, on real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage.history import HistoryEntry
from storage.store import Store


@pytest.fixture
async def store(redis_url: str, bot_prefix: str) -> AsyncIterator[Store]:
    s = Store.from_url(redis_url, bot=bot_prefix)
    yield s
    await s.close()


async def test_an_operator_name_is_taken_once(store: Store) -> None:
    ops = store.desk.operators
    assert await ops.add("Ольга", "h1", "owner")
    assert not await ops.add("Ольга", "h2", "operator")
    found = await ops.get("Ольга")
    assert found is not None
    assert (found.password_hash, found.role, found.disabled) == ("h1", "owner", False)
    assert [op.name for op in await ops.all()] == ["Ольга"]


async def test_disabling_bumps_the_session_generation_and_remove_forgets(store: Store) -> None:
    ops = store.desk.operators
    await ops.add("ivan", "h", "operator")
    before = await ops.get("ivan")
    assert await ops.set_disabled("ivan", True)
    after = await ops.get("ivan")
    assert before is not None
    assert after is not None
    assert after.disabled
    assert after.generation == before.generation + 1
    assert await ops.remove("ivan")
    assert await ops.get("ivan") is None
    assert not await ops.remove("ivan")
    assert not await ops.set_disabled("ivan", False)


async def test_a_name_no_operator_can_have_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="invalid operator name"):
        await store.desk.operators.add("a b", "h", "operator")
    assert await store.desk.operators.get("{x}*") is None


async def test_failed_logins_count_per_name_and_per_address(store: Store) -> None:
    logins = store.desk.logins
    for _ in range(3):
        await logins.failed("ivan", "10.0.0.1")
    await logins.failed("petr", "10.0.0.1")
    assert await logins.counts("ivan", "10.0.0.1") == (3, 4)
    assert await logins.counts("ivan", "10.0.0.2") == (3, 0)
    await logins.succeeded("ivan")
    assert await logins.counts("ivan", "10.0.0.1") == (0, 4)
    await logins.failed("not a name", "10.0.0.3")  # counted by address only
    assert await logins.counts("not a name", "10.0.0.3") == (0, 1)


async def test_two_operators_cannot_both_claim(store: Store) -> None:
    customer = await store.identities.resolve("web:s1")
    got = await asyncio.gather(*(store.desk.handoffs.claim(customer, name)
                                 for name in ("ivan", "olga", "petr")))
    assert len(set(got)) == 1
    assert await store.desk.handoffs.holder(customer) == got[0]
    await store.desk.handoffs.unclaim(customer, "someone else")
    assert await store.desk.handoffs.holder(customer) == got[0]
    await store.desk.handoffs.unclaim(customer, got[0])
    assert await store.desk.handoffs.holder(customer) is None


async def test_forget_erases_the_desk_records_of_a_customer_but_not_the_audit(
    store: Store,
) -> None:
    customer = await store.identities.resolve("web:s1")
    await store.history.append(customer, HistoryEntry(1.0, "web", "in", "Привет"))
    await store.desk.handoffs.began(customer, 100.0)
    await store.desk.handoffs.claim(customer, "ivan")
    await store.desk.audit.record("ivan", "card", customer)
    assert await store.desk.handoffs.waiting() == {customer: 100.0}
    await store.forget(customer)
    assert await store.desk.handoffs.waiting() == {}
    assert await store.desk.handoffs.holder(customer) is None
    assert [(r.operator, r.action, r.customer) for r in await store.desk.audit.latest()] == [
        ("ivan", "card", customer)]
    assert customer not in await store.desk.summaries.customers()


async def test_summaries_read_state_last_message_profile_and_accounts(store: Store) -> None:
    customer = await store.identities.resolve("vk:7", name="Оля")
    await store.identities.attach("web:s9", customer, 1.0)
    await store.history.append(customer, HistoryEntry(5.0, "vk", "in", "Здравствуйте"))
    (found,) = await store.desk.summaries.of([customer])
    assert (found.name, found.handoff, found.accounts[0]) == ("Оля", None, "vk:7")
    assert found.last is not None
    assert found.last.text == "Здравствуйте"
    assert set(found.accounts) == {"vk:7", "web:s9"}


async def test_a_repeated_look_within_the_window_is_audited_once(store: Store) -> None:
    customer = await store.identities.resolve("web:s1")
    audit = store.desk.audit
    assert await audit.record_once("ivan", "card", customer, within=600)
    assert not await audit.record_once("ivan", "card", customer, within=600)
    assert await audit.record_once("olga", "card", customer, within=600)
    assert [r.operator for r in await audit.latest()] == ["olga", "ivan"]
    await store.forget(customer)  # the marks go with the customer, the records stay
    assert await audit.record_once("ivan", "card", customer, within=600)
    assert len(await audit.latest()) == 3


@pytest.mark.parametrize(("stored", "stage"), [
    ('{"k":[{"f":"a","s":"b"}],"h":"taken"}', "taken"), ('{"h":true}', "waiting"),
    ('{"h":"unheard"}', "unheard"), ('{"k":[]}', None), ('{"h":"nonsense"}', None),
    ("not json", None), ("[1]", None),
])
async def test_summaries_read_the_hand_off_stage_alone(store: Store, stored: str,
                                                       stage: str | None) -> None:
    customer = await store.identities.resolve("web:s1")
    await store.redis.hset(store.keys.state(customer), mapping={"v": 1, "d": stored})
    (found,) = await store.desk.summaries.of([customer])
    assert found.handoff == stage


async def test_last_active_is_each_customer_s_latest_account_activity(store: Store) -> None:
    one = await store.identities.resolve("vk:1")
    await store.identities.attach("web:s1", one, 50.0)
    await store.identities.attach("vk:1", one, 70.0)
    two = await store.identities.resolve("vk:2")
    await store.identities.attach("vk:2", two, 20.0)
    got = await store.desk.summaries.last_active([two, one, "never_seen"])
    assert got == [20.0, 70.0, 0.0]
