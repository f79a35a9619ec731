"""Tags and the advertising consent on the profile: kept apart from personal data, merged
with the customer, erased by ``forget``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.store import Store

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


async def test_the_latest_ads_answer_decides_and_personal_data_stays_apart(
    store: Store,
) -> None:
    await store.profiles.record_consent("c1", True, "pd-1", AT, "vk")
    assert not (await store.profiles.get("c1")).ads_consent
    await store.profiles.record_consent("c1", True, "ads-1", AT, "vk", what="ads")
    await store.profiles.record_consent("c1", False, "unsubscribe", AT + timedelta(1), "max",
                                        what="ads")
    profile = await store.profiles.get("c1")
    assert profile.consent_granted
    assert not profile.ads_consent


async def test_tags_are_merged_and_erased(store: Store) -> None:
    await store.profiles.add_tags("keep", ["vip"])
    await store.profiles.add_tags("other", ["booked", "vip"])
    await store.profiles.record_consent("other", True, "ads-1", AT, "web", what="ads")
    await store.profiles.absorb("keep", "other")
    kept = await store.profiles.get("keep")
    assert kept.tags == ("booked", "vip")
    assert kept.ads_consent
    assert not await store.redis.exists(store.keys.tags("other"))
    await store.forget("keep")
    assert (await store.profiles.get("keep")).tags == ()
    assert not await store.redis.exists(store.keys.tags("keep"))
