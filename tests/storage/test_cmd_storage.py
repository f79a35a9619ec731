"""``svyaz export`` and ``svyaz forget`` against a real Redis."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots.cli import main
from storage.desk import EVERYONE
from storage.embedded import EmbeddedRedis
from storage.history import HistoryEntry
from storage.identity import new_customer_id
from storage.store import Store


async def _seed(url: str, bot: str) -> str:
    store = Store.from_url(url, bot=bot)
    try:
        customer = await store.identities.resolve("vk:1")
        await store.history.append(customer, HistoryEntry(1.0, "vk", "in", "Привет"))
        reply = HistoryEntry(2.0, "vk", "out", "Здравствуйте", ("Да",))
        await store.history.append(customer, reply)
        other = await store.identities.resolve("web:s")
        await store.history.append(other, HistoryEntry(3.0, "web", "in", "hi"))
        return customer
    finally:
        await store.close()


async def _keys(url: str, bot: str) -> list[str]:
    store = Store.from_url(url, bot=bot)
    try:
        return [str(k) async for k in store.redis.scan_iter(match=f"svyaz:{bot}:*")]
    finally:
        await store.close()


@pytest.fixture
def env(
    embedded_redis: EmbeddedRedis, bot_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVYAZ_REDIS_URL", embedded_redis.url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    return asyncio.run(_seed(embedded_redis.url, bot_prefix))


def test_export_all_as_jsonl_to_stdout(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["text"] for r in rows) == ["hi", "Здравствуйте", "Привет"]


def test_export_one_customer_by_account_as_csv(env: str, tmp_path: Path) -> None:
    out = tmp_path / "h.csv"
    assert main(["export", "--customer", "vk:1", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["customer"], r["text"], r["buttons"]) for r in rows] == [
        (env, "Привет", ""),
        (env, "Здравствуйте", "Да"),
    ]


async def _audit(url: str, bot: str) -> list[tuple[str, str, str]]:
    store = Store.from_url(url, bot=bot)
    try:
        return [(r.operator, r.action, r.customer) for r in await store.desk.audit.latest()]
    finally:
        await store.close()


def test_every_export_is_in_the_owners_audit_log(
    env: str, embedded_redis: EmbeddedRedis, bot_prefix: str, tmp_path: Path,
) -> None:
    """152-FZ: who saw whose data — the command line's exports too, as the desk's and the
    API's (newest first; all customers at once as EVERYONE)."""
    assert main(["export", "--customer", "vk:1", "--out", str(tmp_path / "one.csv")]) == 0
    assert main(["export", "--out", str(tmp_path / "all.jsonl")]) == 0
    assert asyncio.run(_audit(embedded_redis.url, bot_prefix)) == [
        ("svyaz export", "export", EVERYONE), ("svyaz export", "export", env)]


def test_export_of_unknown_customer_fails(env: str) -> None:
    assert main(["export", "--customer", "vk:999"]) == 1


def test_forget_needs_yes_then_erases(
    env: str, embedded_redis: EmbeddedRedis, bot_prefix: str
) -> None:
    # "--" keeps an id made before ids stopped starting with "-" from reading as an option
    assert main(["forget", "--", env]) == 1
    keys = asyncio.run(_keys(embedded_redis.url, bot_prefix))
    assert any(env in k for k in keys)
    assert main(["forget", "vk:1", "--yes"]) == 0
    keys = asyncio.run(_keys(embedded_redis.url, bot_prefix))
    assert not any(env in k for k in keys)
    assert main(["forget", "--yes", "--", env]) == 1  # nothing left to erase


def test_forget_takes_an_id_that_starts_with_a_dash(
    embedded_redis: EmbeddedRedis, bot_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVYAZ_REDIS_URL", embedded_redis.url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)

    async def seed() -> None:
        store = Store.from_url(embedded_redis.url, bot=bot_prefix)
        try:
            await store.history.append("-dash", HistoryEntry(1.0, "web", "in", "hi"))
        finally:
            await store.close()

    asyncio.run(seed())
    assert main(["export", "--customer=-dash"]) == 0
    assert main(["forget", "--yes", "--", "-dash"]) == 0
    left = asyncio.run(_keys(embedded_redis.url, bot_prefix))
    assert [k for k in left if not k.endswith(":{desk}:audit'")] == []  # who looked stays


def test_new_customer_ids_never_start_with_a_dash() -> None:
    ids = [new_customer_id() for _ in range(5000)]  # ~78 would start with "-" by chance
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == len(ids)


def test_export_into_a_closed_pipe_ends_quietly(env: str, tmp_path: Path) -> None:
    """``svyaz export --format csv | head``: the reader goes away; no traceback."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # a reader that has already stopped reading: every write fails
    try:
        done = subprocess.run([sys.executable, "-m", "bots.cli", "export", "--format", "csv"],
                              stdout=write, stderr=subprocess.PIPE, cwd=tmp_path,
                              timeout=60, check=False)
    finally:
        os.close(write)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    assert b"BrokenPipe" not in done.stderr
    assert done.returncode == 141  # as a shell reports a command stopped by SIGPIPE


def test_a_customer_is_found_by_the_phone_given_with_consent(
    env: str, embedded_redis: EmbeddedRedis, bot_prefix: str,
) -> None:
    async def give_phone(consented: bool) -> None:
        store = Store.from_url(embedded_redis.url, bot=bot_prefix)
        try:
            if consented:
                await store.profiles.record_consent(env, True, "v1",
                                                    datetime(2026, 12, 4, tzinfo=UTC), "vk")
            await store.profiles.set_field(env, "phone", "+79161234567")
        finally:
            await store.close()

    asyncio.run(give_phone(consented=False))
    assert main(["export", "--customer", "sms:+79161234567"]) == 1  # no consent: no account
    asyncio.run(give_phone(consented=True))
    assert main(["export", "--customer", "sms:8 916 123-45-67"]) == 0
    assert main(["forget", "sms:+79161234567", "--yes"]) == 0
    assert not any(env in k for k in asyncio.run(_keys(embedded_redis.url, bot_prefix)))
    assert main(["export", "--customer", "email:maria@example.ru"]) == 1  # (no e-mail index)
