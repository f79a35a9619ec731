"""Erasure (152-FZ) that really erases, while the bot runs on its embedded Redis.

A customer with a distinctive name, phone and message books a visit through the web chat
(two reminders scheduled); ``svyaz forget`` run beside the running bot — or ``DELETE
/api/v1/customers/{id}`` — must leave no key naming them, no value holding them and no file
under the data folder containing them, and the bot must keep answering.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import EDGE, build_app
from bots.cli import main
from bots.config import Settings
from storage.notices import Sent
from storage.store import Store
from tests.bookable import bookable_day

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://127.0.0.1:8080"
IDS = itertools.count()
TOKEN = "erase-t0ken"
NAME = "Евлампия Зюзикова"
PHONE_TYPED = "8 (916) 555-43-21"
MESSAGE = "Кодовое слово Трансцендентальность-7781"
SECRETS = [NAME.encode(), "Зюзиков".encode(), b"+79165554321", b"9165554321",
           "Трансцендентальность".encode()]


@pytest.fixture
async def bot(bot_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              ) -> AsyncIterator[TestClient]:
    """The bot on its own embedded Redis; the CLI sees the same settings."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SVYAZ_REDIS_URL", raising=False)
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, bot=bot_prefix, flows=ROOT / "flows_examples",
        data_dir=tmp_path / "data", api_token=TOKEN,
    )
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        yield client


async def say(ws: aiohttp.ClientWebSocketResponse, text: str, expect: str) -> None:
    await ws.send_json({"type": "text", "text": text, "id": f"m{next(IDS)}"})
    while True:
        frame = await ws.receive_json(timeout=8)
        if frame["type"] == "error":
            raise AssertionError(frame)
        if frame["type"] == "reply" and expect in frame["text"]:
            return


async def book(client: TestClient) -> str:
    """One customer through the booking flow; their id."""
    ws = await client.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
    await ws.send_json({"type": "hello", "session": None})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    await say(ws, MESSAGE, "")
    for text, expect in [("Хочу записаться", "Какую услугу"), ("Стрижка", "мастеру"),
                         ("Анна", "день"), (bookable_day(2), "Свободное время"),
                         ("2", "персональных данных"), ("Да", "Как вас зовут"),
                         (NAME, "телефона"), (PHONE_TYPED, "Проверьте"), ("да", "Готово")]:
        await say(ws, text, expect)
    await ws.close()
    store = client.app[EDGE].parts.store
    (customer,) = await store.history.customers()
    assert len(await client.app[EDGE].parts.reminders.of_customer(customer)) == 2
    return customer


async def notice_sent_by_sms(store: Store, customer: str) -> None:
    """A visit notice whose SMS rung was sent: global keys (the SMS and due indexes, the
    daily SMS counter) that name the customer."""
    await store.notices.open(customer, "visit:1", ["messenger", "sms"], 1.0)
    await store.notices.advance(customer, "visit:1", 0, 2.0, check_at=9e9)
    assert (await store.notices.claim(customer, "visit:1", 1, "t", 3.0)).won
    await store.notices.settle(customer, "visit:1", 1, "t", Sent("smsru", "202-1"), 4.0)
    await store.notices.quota.take_sms(customer, "2027-01-15", "2027-01", 3, None, 1)


def files_holding(folder: Path, needles: list[bytes]) -> dict[str, list[bytes]]:
    """Every file under ``folder`` (bytes) that contains one of ``needles``."""
    found: dict[str, list[bytes]] = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_socket():
            data = path.read_bytes()
            if hits := [n for n in needles if n in data]:
                found[str(path.relative_to(folder))] = hits
    return found


async def until_in_files(folder: Path, needles: list[bytes]) -> None:
    """Redis writes its append-only file once per event loop turn: wait until it has."""
    for _ in range(200):
        if len({n for hits in files_holding(folder, needles).values() for n in hits}) \
                == len(needles):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not all of {needles} reached the files: the test cannot see them")


async def values_of(redis: Any, key: bytes) -> bytes:
    """Everything a key holds, as bytes, whatever its type."""
    kind = (await redis.type(key)).decode()
    if kind == "string":
        return bytes(await redis.get(key) or b"")
    if kind == "hash":
        return repr(sorted((await redis.hgetall(key)).items())).encode()
    if kind == "set":
        return repr(sorted(await redis.smembers(key))).encode()
    if kind == "zset":
        return repr(await redis.zrange(key, 0, -1)).encode()
    if kind == "list":
        return repr(await redis.lrange(key, 0, -1)).encode()
    if kind == "stream":
        return repr(await redis.xrange(key)).encode()
    return b""


def utf8_reprs(needles: list[bytes]) -> list[bytes]:
    """``repr`` of bytes shows non-ASCII as escapes: look for those too."""
    return needles + [repr(n)[2:-1].encode() for n in needles]


async def test_forget_beside_the_running_bot_leaves_nothing_in_any_file_or_key(
    bot: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    customer = await book(bot)
    await notice_sent_by_sms(bot.app[EDGE].parts.store, customer)
    await until_in_files(data, SECRETS)

    assert await asyncio.to_thread(main, ["export", "--customer", customer]) == 0
    assert MESSAGE in capsys.readouterr().out  # export works beside the running bot too
    assert await asyncio.to_thread(main, ["forget", "--yes", "--", customer]) == 0
    assert files_holding(data, SECRETS) == {}
    out = capsys.readouterr().out
    assert "напоминаний 2" in out
    assert "переписаны: ни в одном из них этого клиента больше нет" in out
    redis = bot.app[EDGE].parts.store.redis
    needles = utf8_reprs([*SECRETS, customer.encode()])
    audit = bot.app[EDGE].parts.store.keys.desk_audit.encode()
    async for key in redis.scan_iter(match=f"svyaz:{bot.app[EDGE].parts.store.keys.bot}:*"):
        assert customer.encode() not in key, key
        held = await values_of(redis, key)
        # The audit log keeps who saw whose data, the customer by internal id only (the
        # export above is in it): nothing else of theirs.
        kept = utf8_reprs(SECRETS) if key == audit else needles
        assert not [n for n in kept if n in held], (key, held)
    assert await bot.app[EDGE].parts.reminders.scheduled() == []  # no job left behind

    ws = await bot.ws_connect("/chat/ws", headers={"Origin": ORIGIN})  # the bot goes on
    await ws.send_json({"type": "hello", "session": None})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    await say(ws, "Хочу записаться", "Какую услугу")
    await ws.close()


async def test_the_api_exports_then_erases_a_customer_idempotently(
    bot: TestClient, tmp_path: Path,
) -> None:
    customer = await book(bot)
    await until_in_files(tmp_path / "data", SECRETS)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    path = f"/api/v1/customers/{customer}"

    assert (await bot.get(f"{path}/export")).status == 401
    assert (await bot.delete(path)).status == 401
    resp = await bot.get(f"{path}/export", headers=auth)
    assert resp.status == 200
    body = await resp.json()
    assert body["customer"] == customer
    texts = [m["text"] for m in body["messages"]]
    assert MESSAGE in texts
    assert NAME in texts
    assert body["profile"]["phone"] == "+79165554321"

    resp = await bot.delete(path, headers=auth)
    assert resp.status == 200
    assert files_holding(tmp_path / "data", SECRETS) == {}
    assert await resp.json() == {"customer": customer, "erased": True, "reminders": 2,
                                 "files": "rewritten"}
    again = await bot.delete(path, headers=auth)  # idempotent: nothing left, same answer
    assert again.status == 200
    assert (await again.json())["erased"] is False
    assert (await bot.get(f"{path}/export", headers=auth)).status == 404
    assert (await bot.delete("/api/v1/customers/bad$id", headers=auth)).status == 404


def test_openapi_lists_export_and_erase() -> None:
    from bots.api import openapi_document

    paths = openapi_document()["paths"]
    assert "get" in paths["/customers/{customer}/export"]
    assert "delete" in paths["/customers/{customer}"]
    json.dumps(openapi_document())
    from openapi_spec_validator import validate

    validate(openapi_document())  # (every response needs its description)
