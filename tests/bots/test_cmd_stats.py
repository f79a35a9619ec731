"""``svyaz stats FLOW``: the booking funnel in Russian from the bot's Redis, a period, a
channel, and a clear refusal of an unknown flow."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from desk_client import EXAMPLES
from funnel_seed import seed

from bots.cli import main
from storage.store import Store


@pytest.fixture
async def seeded(redis_url: str, bot_prefix: str, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.from_url(redis_url, bot=bot_prefix)
    await seed(store)
    await store.close()
    monkeypatch.chdir(tmp_path)  # (no .env of the repository's)
    monkeypatch.setenv("SVYAZ_REDIS_URL", redis_url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    monkeypatch.setenv("SVYAZ_FLOWS", str(EXAMPLES))


def _run(*args: str) -> int:
    return main(["stats", *args])


@pytest.mark.usefixtures("seeded")
async def test_the_booking_funnel_in_the_terminal(capfd: pytest.CaptureFixture[str]) -> None:
    assert await _in_thread(_run, "booking", "--days", "7") == 0
    out = capfd.readouterr().out
    assert "Сценарий «Запись на приём» (booking)" in out
    assert "Начали: 40   Завершили: 18   Конверсия: 45 %" in out
    day = next(line for line in out.splitlines() if line.startswith("day "))
    assert day.split()[:6] == ["day", "31", "27", "4", "9", "0"]
    assert "«Стрижка»: 12" in out
    assert await _in_thread(_run, "booking", "--days", "1", "--channel", "vk") == 0
    assert "Начали: 20" in capfd.readouterr().out
    assert await _in_thread(_run, "nope") == 1
    assert "нет сценария 'nope'" in capfd.readouterr().err


async def _in_thread(func: Callable[..., int], *args: str) -> int:
    """The command runs its own event loop (asyncio.run): not inside the test's."""
    return await asyncio.to_thread(func, *args)
