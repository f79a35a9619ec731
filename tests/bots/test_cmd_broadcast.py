"""``svyaz broadcast create|dry-run|start|pause|cancel|status`` against a real Redis, with
the example ``december_offer`` and its segment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots.cli import main
from storage.embedded import EmbeddedRedis
from storage.store import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"
OFFER = str(EXAMPLES / "broadcasts" / "december_offer.yaml")


async def _seed(url: str, bot: str) -> None:
    store = Store.from_url(url, bot=bot)
    try:
        for account in ("max:1", "vk:2", "web:3", "vk:4"):
            customer = await store.identities.resolve(account)
            if account != "vk:4":  # vk:4 never agreed to advertising
                await store.profiles.record_consent(customer, True, "2026-12",
                                                    datetime.now(UTC), "max", what="ads")
                await store.profiles.add_tags(customer, ["подписчик"])
    finally:
        await store.close()


@pytest.fixture
def env(embedded_redis: EmbeddedRedis, bot_prefix: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVYAZ_REDIS_URL", embedded_redis.url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    monkeypatch.setenv("SVYAZ_FLOWS", str(EXAMPLES))
    monkeypatch.setenv("SVYAZ_LANG", "ru")
    asyncio.run(_seed(embedded_redis.url, bot_prefix))


def _said(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    assert main(["broadcast", *args]) == code
    return capsys.readouterr().out.strip()


def test_the_december_offer_from_dry_run_to_cancel(
    env: None, capsys: pytest.CaptureFixture[str],
) -> None:
    assert _said(capsys, "dry-run", OFFER) == (
        "messenger_subscribers (Декабрьское предложение): клиентов 2 — max 1, vk 1")
    assert _said(capsys, "create", OFFER, "--id", "december-offer").startswith(
        "рассылка december-offer создана")
    assert main(["broadcast", "create", OFFER, "--id", "december-offer"]) == 1  # taken
    assert "в очереди 2" in _said(capsys, "start", "december-offer")
    assert _said(capsys, "status", "december-offer") == (
        "рассылка december-offer: running\n  max: queued 1\n  vk: queued 1")
    assert _said(capsys, "pause", "december-offer") == "рассылка december-offer: paused"
    _said(capsys, "cancel", "december-offer")
    assert main(["broadcast", "pause", "december-offer"]) == 1  # cancelled: nothing to pause
    assert main(["broadcast", "status", "nope"]) == 1


def test_a_broadcast_file_with_mistakes_is_refused_with_lines(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nkind: ads\nsegment: vip\ntext: hi\n", encoding="utf-8")
    assert main(["broadcast", "dry-run", str(bad)]) == 1
    assert "bad.yaml:3:10" in capsys.readouterr().err
