"""storage.merge: how established a customer is (what counts as typed, what as a profile) and
what a merge leaves of the customer that goes (its live link keys, a log line)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from storage.history import HistoryEntry
from storage.keys import LINK_FRESH_MESSAGES
from storage.merge import Merger
from storage.store import Store
from tests.redeem import redeem_link_token


def _merger(store: Store) -> Merger:
    return Merger(store.redis, store.keys, accounts=store.identities, history=store.history,
                  profiles=store.profiles, reminders=store.reminders, inbox=store.inbox)


async def test_only_messages_the_customer_typed_count(store: Store) -> None:
    customer = await store.identities.resolve("vk:1")
    for entry in (HistoryEntry(5.0, "vk", "out", "Здравствуйте!"),  # the bot's
                  HistoryEntry(3.0, "vk", "in", "/start", note="start"),
                  HistoryEntry(4.0, "vk", "in", "123456", note="link"),
                  HistoryEntry(6.0, "vk", "in", "", note=""),  # a contact or a sticker
                  HistoryEntry(7.0, "vk", "in", "хочу записаться")):
        await store.history.append(customer, entry)
    standing = await _merger(store).standing(customer)
    assert (standing.typed, standing.profile, standing.since) == (1, False, 3.0)


async def test_typed_messages_are_counted_up_to_the_fresh_limit(store: Store) -> None:
    customer = await store.identities.resolve("vk:1")
    for n in range(LINK_FRESH_MESSAGES + 2):
        await store.history.append(customer, HistoryEntry(float(n), "vk", "in", f"m{n}"))
    assert (await _merger(store).standing(customer)).typed == LINK_FRESH_MESSAGES


async def test_a_platform_name_is_no_profile_but_any_other_field_is(store: Store) -> None:
    merger = _merger(store)
    named = await store.identities.resolve("vk:1")
    await store.profiles.set_field(named, "name", "Аня")
    assert not (await merger.standing(named)).profile
    await store.profiles.set_field(named, "email", "a@example.ru")
    assert (await merger.standing(named)).profile


async def test_a_consent_alone_is_a_profile(store: Store) -> None:
    customer = await store.identities.resolve("vk:1")
    await store.profiles.record_consent(customer, True, "v1", datetime(2026, 1, 1, tzinfo=UTC),
                                        "vk")
    assert (await _merger(store).standing(customer)).profile


async def test_a_merge_spends_the_links_the_customer_that_goes_issued(store: Store) -> None:
    keep = await store.identities.resolve("web:s1")
    other = await store.identities.resolve("vk:1")
    token = await store.identities.issue_link_token(other)
    code = await store.identities.issue_link_code(other)
    await store.identities.merge(keep, other)
    assert not await store.redis.exists(store.keys.link_token(token))
    assert not await store.redis.exists(store.keys.link_code(code))
    assert await redeem_link_token(store.identities, token, "max:1") is None


async def test_a_merge_is_logged_with_both_customers(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    keep = await store.identities.resolve("web:s1")
    other = await store.identities.resolve("vk:1")
    with caplog.at_level(logging.INFO, logger="svyaz.storage"):
        await store.identities.merge(keep, other)
    assert [r.getMessage() for r in caplog.records if r.name == "svyaz.storage"] == [
        f"customer {other} merged into {keep}"]
