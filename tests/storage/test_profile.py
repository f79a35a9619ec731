"""Profiles: normalised fields, consent records, consent-gated phone lookup."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.errors import InvalidValue
from storage.store import Store

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def test_fields_are_normalised(store: Store) -> None:
    assert await store.profiles.set_field("c1", "phone", "8 (999) 123-45-67") == "+79991234567"
    await store.profiles.set_field("c1", "email", " Anna@Mail.RU ")
    await store.profiles.set_field("c1", "name", " Анна ")
    profile = await store.profiles.get("c1")
    assert (profile.name, profile.phone, profile.email) == ("Анна", "+79991234567", "Anna@mail.ru")


@pytest.mark.parametrize(("field", "value"), [("phone", "123"), ("email", "no-at"), ("age", "3")])
async def test_bad_values_are_refused(store: Store, field: str, value: str) -> None:
    with pytest.raises(InvalidValue):
        await store.profiles.set_field("c1", field, value)


async def test_phone_lookup_only_after_consent(store: Store) -> None:
    await store.profiles.set_field("c1", "phone", "+79991234567")
    assert await store.profiles.find_by_phone("+79991234567") is None
    await store.profiles.record_consent("c1", True, "pd-v1", AT, "vk")
    assert await store.profiles.find_by_phone("8 999 123 45 67") == "c1"
    await store.profiles.record_consent("c1", False, "pd-v1", AT, "web")
    assert await store.profiles.find_by_phone("+79991234567") is None
    assert not await store.redis.exists(store.keys.phone("+79991234567"))
    consents = (await store.profiles.get("c1")).consents
    assert [(c.granted, c.channel, c.text_version, c.at) for c in consents] == [
        (True, "vk", "pd-v1", AT),
        (False, "web", "pd-v1", AT),
    ]


async def test_changing_phone_moves_the_index(store: Store) -> None:
    await store.profiles.record_consent("c1", True, "v1", AT, "max")
    await store.profiles.set_field("c1", "phone", "+79990000001")
    await store.profiles.set_field("c1", "phone", "+79990000002")
    assert await store.profiles.find_by_phone("+79990000001") is None
    assert await store.profiles.find_by_phone("+79990000002") == "c1"
    assert await store.profiles.find_by_phone("garbage") is None


async def test_a_stranger_typing_a_customers_number_does_not_take_it(store: Store) -> None:
    """The first consenting holder keeps the phone index (issue 13 §2, found by the link
    drill): before, the index followed the latest typist, so the real customer's next phone
    match sent its joining code to the stranger."""
    await store.profiles.record_consent("owner", True, "v1", AT, "vk")
    await store.profiles.set_field("owner", "phone", "+79990000001")
    await store.profiles.record_consent("stranger", True, "v1", AT, "web")
    await store.profiles.set_field("stranger", "phone", "8 999 000-00-01")
    assert await store.profiles.find_by_phone("+79990000001") == "owner"
    await store.profiles.record_consent("stranger", True, "v1", AT, "web")  # consent again
    assert await store.profiles.find_by_phone("+79990000001") == "owner"


async def test_a_number_its_holder_gave_up_goes_to_the_next_who_gives_it(store: Store) -> None:
    await store.profiles.record_consent("a", True, "v1", AT, "vk")
    await store.profiles.set_field("a", "phone", "+79990000001")
    await store.profiles.set_field("a", "phone", "+79990000002")  # a changed numbers
    await store.profiles.record_consent("b", True, "v1", AT, "web")
    await store.profiles.set_field("b", "phone", "+79990000001")
    assert await store.profiles.find_by_phone("+79990000001") == "b"
    await store.profiles.record_consent("a", False, "v1", AT, "vk")  # a withdrew consent
    await store.profiles.record_consent("c", True, "v1", AT, "web")
    await store.profiles.set_field("c", "phone", "+79990000002")
    assert await store.profiles.find_by_phone("+79990000002") == "c"


async def test_set_phone_answers_who_held_the_number_before_with_consent(store: Store) -> None:
    """What ``find_by_phone`` said just before the store, read in the same round trip."""
    assert await store.profiles.set_phone("c1", "8 999 123 45 67") == ("+79991234567", None)
    assert await store.profiles.set_phone("c2", "+79991234567") == ("+79991234567", None)
    await store.profiles.record_consent("c1", True, "pd-v1", AT, "vk")
    assert await store.profiles.set_phone("c3", "+79991234567") == ("+79991234567", "c1")
    assert await store.profiles.set_phone("c1", "+79991234567") == ("+79991234567", "c1")
    await store.profiles.record_consent("c1", False, "pd-v1", AT, "web")
    assert await store.profiles.set_phone("c4", "+79991234567") == ("+79991234567", None)
