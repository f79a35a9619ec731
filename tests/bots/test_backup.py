"""``svyaz backup`` while the bot runs on its embedded Redis, ``svyaz restore`` into a stopped
bot's folder: every customer, dialogue, message and reminder comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bots.app import EDGE
from bots.cli import main
from storage.embedded import EmbeddedRedis
from storage.store import Store
from tests.bots.test_erasure import ORIGIN, book, bot, say, values_of  # noqa: F401 - bot

_VOLATILE = (":lock", ":health", "{sched}:leader")  # expiring marks of the running process


async def everything(store: Store) -> dict[bytes, bytes]:
    """Every lasting key of the bot's namespace with all it holds."""
    found = {}
    async for key in store.redis.scan_iter(match=f"{store.keys.prefix}*"):
        if not key.decode().endswith(_VOLATILE):
            found[key] = await values_of(store.redis, key)
    return found


async def test_a_backup_of_a_running_bot_restores_every_customer_dialogue_and_reminder(
    bot: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    services = bot.app[EDGE].parts
    booked = await book(bot)
    ws = await bot.ws_connect("/chat/ws", headers={"Origin": ORIGIN})  # a dialogue under way
    await ws.send_json({"type": "hello", "session": None})
    await say(ws, "Хочу записаться", "Какую услугу")
    await ws.close()
    customers = await services.store.history.customers()
    assert len(customers) == 2
    before = await everything(services.store)
    file = tmp_path / "backups" / "svyaz.rdb"
    file.parent.mkdir()

    assert await asyncio.to_thread(main, ["backup", str(file)]) == 0
    assert not list((tmp_path / "data").glob("*.rdb"))  # the snapshot left the data folder
    assert await asyncio.to_thread(main, ["restore", str(file)]) == 2  # the bot runs there
    assert "сначала остановите его" in capsys.readouterr().err

    restored = tmp_path / "restored"
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(restored))
    assert await asyncio.to_thread(main, ["restore", str(file)]) == 0
    assert await asyncio.to_thread(main, ["restore", str(file)]) == 2  # it holds data now
    assert "--replace" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["restore", "--replace", str(file)]) == 0

    with EmbeddedRedis(restored) as server:  # started as svyaz run starts it
        store = Store.from_url(server.url, bot=services.store.keys.bot)
        try:
            assert await everything(store) == before
            assert sorted(await store.history.customers()) == sorted(customers)
            state, _ = await store.states.load(booked)
            assert state is not None
            assert len(await store.history.read(booked, count=100)) > 10
            records = await store.redis.hgetall(store.keys.reminder_records(booked))
            assert len(records) == 2
            jobs = await store.redis.hkeys(store.keys.sched_jobs)
            assert sorted(jobs) == sorted(f"{booked}:{k.decode()}".encode() for k in records)
        finally:
            await store.close()


def test_restore_refuses_a_file_that_is_no_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SVYAZ_REDIS_URL", raising=False)
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "notes.txt").write_text("не резервная копия", "utf-8")
    assert main(["restore", str(tmp_path / "notes.txt")]) == 2
    assert "не копия, сделанная svyaz backup" in capsys.readouterr().err
    assert main(["backup", str(tmp_path / "data" / "inside.rdb")]) == 2
    assert "лежит внутри папки данных" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # nothing was touched
