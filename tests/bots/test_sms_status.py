"""bots.sms_status: SMS.ru's delivery reports reach the notice and the customer's history at
an address only the bot and SMS.ru know; anything else is refused or ignored."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from bots_harness import FLOWS

from bots.app import EDGE, SETTINGS, build_app
from bots.config import Settings, load_settings
from bots.parts import Parts
from bots.sms_status import path_secret, sms_url_command
from connectors.sms.smsc import sms_id_of
from storage.notices import Sent
from tests.fakes.smsc import SmscFake, smsc_fake_fixture  # noqa: F401 - provides smsc_fake
from tests.fakes.smsru import SmsRuFake, smsru_fake_fixture  # noqa: F401 - provides smsru_fake

SMS_ID = "202612-1000001"


@asynccontextmanager
async def _served(monkeypatch: pytest.MonkeyPatch, provider: dict[str, str]
                  ) -> AsyncIterator[tuple[TestServer, Parts]]:
    """``svyaz run``'s app with only ``provider``'s SMS settings (``SVYAZ_`` + name)."""
    for name in list(os.environ):
        if name.startswith("SVYAZ_"):
            monkeypatch.delenv(name)
    for name, value in {"FLOWS": str(FLOWS), **provider}.items():
        monkeypatch.setenv(f"SVYAZ_{name}", value)
    app = build_app(load_settings(env_file=None))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    parts = app[EDGE].started
    assert parts is not None
    yield server, parts
    await server.close()


@pytest.fixture
async def bot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str,
              bot_prefix: str, smsru_fake: SmsRuFake) -> AsyncIterator[tuple[TestServer, Parts]]:
    env = {"DATA_DIR": str(tmp_path / "data"), "SMS_PROVIDER": "smsru",
           "SMS_API_ID": smsru_fake.api_id, "SMS_API_URL": smsru_fake.url,
           "REDIS_URL": redis_url, "BOT": bot_prefix}
    async with _served(monkeypatch, env) as served:
        yield served


async def _sent_sms(parts: Parts) -> str:
    """A notice whose SMS rung went out as SMS_ID."""
    customer, now = "c-sms-1", time.time()
    await parts.store.notices.open(customer, "n1", ["sms", "email"], now)
    assert (await parts.store.notices.claim(customer, "n1", 0, "t", now)).won
    await parts.store.notices.settle(customer, "n1", 0, "t", Sent("smsru", SMS_ID, 1), now)
    return customer


async def test_reports_land_in_the_notice_and_the_history(
    bot: tuple[TestServer, Parts], smsru_fake: SmsRuFake,
) -> None:
    server, parts = bot
    customer = await _sent_sms(parts)
    url = str(server.make_url(f"/sms/status/{path_secret(parts_settings(server))}"))
    assert await smsru_fake.emit_status(url, [("unknown-1", 103)]) == (200, "100")
    assert await smsru_fake.emit_status(url, [(SMS_ID, 104)]) == (200, "100")  # not delivered
    notice = await parts.store.notices.get(customer, "n1")
    assert notice is not None
    assert notice.outcomes[0] is not None
    assert notice.outcomes[0].status == "failed"
    due = await parts.store.notices.due(time.time())
    assert [d.notice_id for d in due if d.customer == customer] == ["n1"]  # climbs on now
    notes = [e.note for e in await parts.store.history.read(customer)]
    assert notes == ["SMS не доставлено"]


async def test_a_wrong_address_or_hash_is_refused(
    bot: tuple[TestServer, Parts], smsru_fake: SmsRuFake,
) -> None:
    server, parts = bot
    customer = await _sent_sms(parts)
    wrong = str(server.make_url("/sms/status/" + "0" * 32))
    assert (await smsru_fake.emit_status(wrong, [(SMS_ID, 103)]))[0] == 404
    right = str(server.make_url(f"/sms/status/{path_secret(parts_settings(server))}"))
    assert (await smsru_fake.emit_status(right, [(SMS_ID, 103)], api_id="forged"))[0] == 403
    assert await parts.store.history.read(customer) == []


def parts_settings(server: TestServer) -> Settings:
    return server.app[SETTINGS]


def test_svyaz_sms_url_prints_the_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    for name in list(os.environ):
        if name.startswith("SVYAZ_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SVYAZ_FLOWS", str(FLOWS))
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SVYAZ_SMS_PROVIDER", "smsru")
    monkeypatch.setenv("SVYAZ_SMS_API_ID", "key")
    monkeypatch.setenv("SVYAZ_PUBLIC_URL", "https://bot.example.ru")
    monkeypatch.chdir(tmp_path)
    assert sms_url_command(None) == 0  # type: ignore[arg-type]
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"https://bot.example.ru/sms/status/{path_secret(load_settings(None))}"


@pytest.fixture
async def smsc_bot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str,
                   bot_prefix: str, smsc_fake: SmscFake) -> AsyncIterator[tuple[str, Parts]]:
    env = {"DATA_DIR": str(tmp_path / "data"), "SMS_PROVIDER": "smsc",
           "SMSC_LOGIN": smsc_fake.login, "SMSC_PASSWORD": smsc_fake.password,
           "SMS_API_URL": smsc_fake.url, "REDIS_URL": redis_url, "BOT": bot_prefix}
    async with _served(monkeypatch, env) as (server, parts):
        secret = path_secret(server.app[SETTINGS])
        yield str(server.make_url(f"/sms/status/{secret}")), parts


async def test_smsc_status_calls_land_in_the_notice_and_the_history(
    smsc_bot: tuple[str, Parts], smsc_fake: SmscFake,
) -> None:
    url, parts = smsc_bot
    customer, now = "c-smsc-1", time.time()
    await parts.store.notices.open(customer, "n1", ["sms", "email"], now)
    assert (await parts.store.notices.claim(customer, "n1", 0, "t", now)).won
    sms_id = sms_id_of(4711, "+79161234567")
    await parts.store.notices.settle(customer, "n1", 0, "t", Sent("smsc", sms_id, 1), now)
    assert await smsc_fake.emit_status(url, 9999, "79160000000", 1) == (200, "OK")  # not ours
    assert await smsc_fake.emit_status(url, 4711, "79161234567", 0) == (200, "OK")  # on its way
    assert (await smsc_fake.emit_status(url, 4711, "79161234567", 20,
                                        password="forged"))[0] == 403
    assert await parts.store.history.read(customer) == []
    assert await smsc_fake.emit_status(url, 4711, "79161234567", 1, signed=False) == (200, "OK")
    notice = await parts.store.notices.get(customer, "n1")
    assert notice is not None
    assert notice.outcomes[0] is not None
    assert notice.outcomes[0].delivered_at is not None
    assert [e.note for e in await parts.store.history.read(customer)] == ["SMS доставлено"]
