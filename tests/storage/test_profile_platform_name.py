"""The name a platform shows for an account (``Profiles.platform_name``, VK's ``users.get``):
kept where a MAX name goes, never over a name the customer has (one given in a flow wins),
and never for an account that is no longer the customer's (merged away, or erased by
``svyaz forget`` while the lookup was on its way: no profile comes back)."""

from __future__ import annotations

from storage.store import Store


async def test_the_platform_name_is_kept_once(store: Store) -> None:
    customer = await store.identities.resolve("vk:1")
    assert await store.profiles.named([customer]) == [False]
    assert await store.profiles.platform_name(customer, "vk:1", "Иван Петров")
    assert (await store.profiles.get(customer)).name == "Иван Петров"
    assert await store.profiles.named([customer]) == [True]
    assert not await store.profiles.platform_name(customer, "vk:1", "Иван Другой")
    assert (await store.profiles.get(customer)).name == "Иван Петров"


async def test_the_name_the_customer_gave_wins(store: Store) -> None:
    customer = await store.identities.resolve("vk:2")
    await store.profiles.set_field(customer, "name", "Ваня")  # a flow's ``profile: name``
    assert not await store.profiles.platform_name(customer, "vk:2", "Иван Петров")
    assert (await store.profiles.get(customer)).name == "Ваня"


async def test_no_name_for_an_account_the_customer_no_longer_has(store: Store) -> None:
    customer = await store.identities.resolve("vk:3")
    await store.history.forget(customer)
    assert not await store.profiles.platform_name(customer, "vk:3", "Иван Петров")
    assert not await store.redis.exists(store.keys.profile(customer))
    other = await store.identities.resolve("vk:4")
    assert not await store.profiles.platform_name(other, "vk:3", "Иван Петров")
    assert (await store.profiles.get(other)).name is None
