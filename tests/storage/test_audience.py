"""Segments against a real Redis: the facts read in batches, the dry run per channel, a
merged customer counted once, and ``svyaz segments``."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest

from bots.audience import dry_run, recipients
from bots.cli import main
from flows.segments import Segment
from storage.embedded import EmbeddedRedis
from storage.store import Store

AT = time.time()


async def _people(store: Store) -> dict[str, str]:
    ids = {}
    for n in range(7):  # max:0..6 with an ads consent, tagged vip when even
        ids[f"max{n}"] = customer = await store.identities.resolve(f"max:{n}")
        await store.profiles.record_consent(customer, True, "ads-1", _dt(), "max", what="ads")
        if n % 2 == 0:
            await store.profiles.add_tags(customer, ["vip"])
    for n in range(3):  # vk:0..2, no consent
        ids[f"vk{n}"] = await store.identities.resolve(f"vk:{n}")
    # vk:0 and max:0 are one person: merged, one customer with two accounts
    await store.identities.merge(ids["max0"], ids["vk0"])
    withdrawn = ids["max6"]
    await store.profiles.record_consent(withdrawn, False, "unsubscribe", _dt(), "vk", what="ads")
    return ids


def _dt() -> datetime:
    return datetime.now(UTC)


async def test_the_dry_run_counts_per_channel_once_per_customer(store: Store) -> None:
    await _people(store)
    segments = {"all": Segment(), "ads": Segment(consent="ads"),
                "vip": Segment(consent="ads", tags="vip", channel="max")}
    counts = await dry_run(store, segments, now=AT + 1)
    assert sum(counts["all"].values()) == 9  # 10 accounts, one merged pair
    assert counts["ads"] == {"max": 5, "vk": 1}  # max0..5 (max6 withdrew; max0 is on vk)
    assert counts["vip"] == {"max": 3}  # max0, max2, max4
    found = [pair async for batch in recipients(store, segments["vip"], now=AT + 1)
             for pair in batch]
    assert sorted(account for _, account in found) == ["max:0", "max:2", "max:4"]


async def test_small_batches_walk_every_customer_once(store: Store) -> None:
    ids = await _people(store)
    seen = [f.customer async for batch in store.audience.batches(batch=2) for f in batch]
    assert sorted(seen) == sorted(set(ids.values()) - {ids["vk0"]})


def test_svyaz_segments_prints_the_dry_run(
    embedded_redis: EmbeddedRedis, bot_prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVYAZ_REDIS_URL", embedded_redis.url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    monkeypatch.setenv("SVYAZ_LANG", "ru")
    (tmp_path / "_segments.yaml").write_text(dedent("""\
        segments:
          vip:
            title: Постоянные
            consent: ads
            tags: [vip]
    """), encoding="utf-8")

    async def seed() -> None:
        store = Store.from_url(embedded_redis.url, bot=bot_prefix)
        try:
            await _people(store)
        finally:
            await store.close()

    asyncio.run(seed())
    assert main(["segments", "--folder", str(tmp_path)]) == 0
    # (max:0 is merged with vk:0, active later: its message takes VK)
    assert capsys.readouterr().out.strip() == "vip (Постоянные): клиентов 3 — max 2, vk 1"
