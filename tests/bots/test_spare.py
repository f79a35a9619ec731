"""bots.spare: the SMS provider and the e-mail sender from settings — every mistake is one
sentence at start-up, a configured bot shows them in /healthz, and no credential is printed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from bots_harness import FLOWS

from bots.app import build_app
from bots.config import ConfigError, Settings, load_settings
from bots.spare import make_spare

SMS_KEY = "5F0D-SECRET-API-ID"
SMTP_PASSWORD = "p@ss-word"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SVYAZ_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SVYAZ_FLOWS", str(FLOWS))
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))


def problems_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(f"SVYAZ_{name.upper()}", value)
    try:
        load_settings(env_file=None)
    except ConfigError as exc:
        return list(exc.problems)
    return []


@pytest.mark.parametrize(("env", "says"), [
    ({"sms_provider": "smsru"}, "SVYAZ_SMS_PROVIDER=smsru needs SVYAZ_SMS_API_ID"),
    ({"sms_provider": "smsc", "smsc_login": "shop"}, "needs SVYAZ_SMSC_LOGIN and SVYAZ_SMSC_PASS"),
    ({"sms_api_id": SMS_KEY}, "SVYAZ_SMS_API_ID is set but SVYAZ_SMS_PROVIDER is not"),
    ({"sms_provider": "smsru", "sms_api_id": SMS_KEY, "sms_api_url": "ftp://x"},
     "SVYAZ_SMS_API_URL must be an http(s) address"),
    ({"smtp_url": f"smtp://shop:{SMTP_PASSWORD}@mail.example.ru:587"},
     "SVYAZ_MAIL_FROM is needed too"),
    ({"mail_from": "shop@example.ru"}, "SVYAZ_MAIL_FROM is set but SVYAZ_SMTP_URL is not"),
    ({"smtp_url": f"http://shop:{SMTP_PASSWORD}@mail.example.ru", "mail_from": "a@b.ru"},
     "SVYAZ_SMTP_URL"),
])
def test_each_mistake_is_one_sentence_without_the_secret(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str
) -> None:
    found = problems_with(monkeypatch, **env)
    assert len(found) == 1, found
    assert says in found[0]
    assert SMS_KEY not in found[0]
    assert SMTP_PASSWORD not in found[0]


def test_smsc_and_smtps_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems_with(monkeypatch, sms_provider="smsc", smsc_login="shop",
                         smsc_password="pw", smtp_url="smtps://shop:pw@mail.example.ru",
                         mail_from="Салон «Ромашка» <noreply@example.ru>") == []
    spare = make_spare(load_settings(env_file=None))
    assert spare.health() == {"sms": "smsc", "email": True}
    bare = Settings(_env_file=None, sms_provider=None, smtp_url=None, mail_from=None)  # type: ignore[call-arg]
    assert make_spare(bare).health() == {"sms": None, "email": False}


async def test_a_bot_with_both_shows_them_and_never_prints_the_secrets(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, bot_prefix: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert problems_with(monkeypatch, sms_provider="smsru", sms_api_id=SMS_KEY,
                         sms_sender="Romashka", smtp_url=f"smtp://shop:{SMTP_PASSWORD}@"
                         "127.0.0.1:2525", mail_from="noreply@example.ru") == []
    settings = load_settings(env_file=None, redis_url=redis_url, bot=bot_prefix)
    assert SMS_KEY not in repr(settings)
    assert SMTP_PASSWORD not in repr(settings)
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        body = await (await client.get("/healthz")).json()
    assert body["spare"] == {"sms": "smsru", "email": True}
    out, err = capfd.readouterr()
    assert SMS_KEY not in out + err
    assert SMTP_PASSWORD not in out + err
