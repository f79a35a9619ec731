"""``bots.naming.Namer`` with the real VK connector (against the VK fake) and real Redis:
accounts noted together share one ``users.get``; an account is asked once per process, a
customer with a name is not asked at all (a new process asks Redis first); a failure waits
``retry_after`` before the account is asked again; a channel without a name source, and an
event that names its sender (MAX), are left alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bots.naming import Namer
from connectors.vk import VkConnector
from connectors.vk.client import RetryPolicy
from flows.types import Inbound, TextEvent
from storage.store import Store
from tests.fakes import vk as vk_fakes
from tests.fakes.vk import GROUP_ID, TOKEN, FakeVk

fake_vk = vk_fakes.fake_vk
fake_vk_factory = vk_fakes.fake_vk_factory
FAST = RetryPolicy(attempts=2, base=0.01, cap=0.02, flood_base=0.01, timeout=2.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _nowhere(inbound: Inbound) -> None:
    raise AssertionError("no updates expected")


@pytest.fixture
async def store(redis_url: str, bot_prefix: str) -> AsyncIterator[Store]:
    store = Store.from_url(redis_url, bot=bot_prefix)
    yield store
    await store.close()


@pytest.fixture
async def vk(fake_vk: FakeVk) -> AsyncIterator[VkConnector]:
    connector = VkConnector(token=TOKEN, group_id=GROUP_ID, api_url=fake_vk.api_url,
                            sink=_nowhere, retry=FAST)
    yield connector
    await connector.stop()


def _message(user: int, channel: str = "vk", name: str | None = None) -> Inbound:
    return Inbound(channel=channel, user_id=str(user), event_id=f"e{user}",  # type: ignore[arg-type]
                   event=TextEvent("привет"), name=name)


async def _noted(namer: Namer, store: Store, *users: int) -> list[str]:
    customers = [await store.identities.resolve(f"vk:{u}") for u in users]
    for user, customer in zip(users, customers, strict=True):
        namer.note(customer, _message(user))
    await namer.idle()
    return customers


async def test_accounts_noted_together_share_one_request(
    store: Store, vk: VkConnector, fake_vk: FakeVk,
) -> None:
    fake_vk.person(1, "Анна", "Смирнова")
    fake_vk.person(2, "Пётр", "Иванов")
    fake_vk.person(3, deactivated="deleted")
    namer = Namer(store.profiles, {"vk": vk})
    customers = await _noted(namer, store, 1, 2, 3, 1)
    [call] = fake_vk.calls_of("users.get")
    assert sorted(call.params["user_ids"].split(",")) == ["1", "2", "3"]
    assert [(await store.profiles.get(c)).name for c in customers[:3]] == [
        "Анна Смирнова", "Пётр Иванов", None]
    await _noted(namer, store, 1, 2)  # named: never asked again
    assert len(fake_vk.calls_of("users.get")) == 1
    await namer.close()


async def test_a_named_customer_is_not_asked_about(
    store: Store, vk: VkConnector, fake_vk: FakeVk,
) -> None:
    customer = await store.identities.resolve("vk:5")
    await store.profiles.set_field(customer, "name", "Ваня")
    namer = Namer(store.profiles, {"vk": vk})  # a new process: nothing remembered
    await _noted(namer, store, 5)
    assert fake_vk.calls_of("users.get") == []
    assert (await store.profiles.get(customer)).name == "Ваня"


async def test_a_failure_is_asked_again_only_later(
    store: Store, vk: VkConnector, fake_vk: FakeVk,
) -> None:
    fake_vk.person(7, "Анна", "Смирнова")
    fake_vk.fail("users.get", http_status=429)
    clock = Clock()
    namer = Namer(store.profiles, {"vk": vk}, retry_after=600, clock=clock)
    [customer] = await _noted(namer, store, 7)
    await _noted(namer, store, 7)  # a second message at once: not asked again
    assert len(fake_vk.calls_of("users.get")) == 1
    assert (await store.profiles.get(customer)).name is None
    clock.now += 601
    await _noted(namer, store, 7)
    assert len(fake_vk.calls_of("users.get")) == 2
    assert (await store.profiles.get(customer)).name == "Анна Смирнова"


async def test_other_channels_and_named_senders_are_left_alone(
    store: Store, vk: VkConnector, fake_vk: FakeVk,
) -> None:
    namer = Namer(store.profiles, {"vk": vk})
    namer.note("c1", _message(8, channel="max"))
    namer.note("c2", _message(9, name="Иван"))
    await namer.idle()
    assert fake_vk.calls_of("users.get") == []


async def test_settled_waits_only_for_a_customer_whose_name_is_being_looked_up(
    store: Store, vk: VkConnector, fake_vk: FakeVk,
) -> None:
    """A hand-off note waits for its own customer's lookup (bounded), never for another's:
    VK holds users.get, and a customer nobody is asking about is settled at once."""
    fake_vk.person(1, "Анна", "Смирнова")
    fake_vk.fail("users.get", delay=30)  # held past the test
    namer = Namer(store.profiles, {"vk": vk})
    asked = await store.identities.resolve("vk:1")
    other = await store.identities.resolve("web:s1")
    namer.note(asked, _message(1))
    while not fake_vk.calls_of("users.get"):
        await asyncio.sleep(0.01)
    theirs = asyncio.create_task(namer.settled(asked, 0.2))
    others = asyncio.create_task(namer.settled(other, 5.0))
    await asyncio.sleep(0)  # one step each
    assert others.done()  # nothing of theirs under way: no wait at all
    assert not theirs.done()  # theirs is: waited for, up to the bound
    await theirs
    await namer.close()
