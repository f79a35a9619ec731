"""``svyaz invite send`` (``bots.invite_send``): the imported customers' invitation links go
by SMS (the SMS.ru fake of tests/fakes, its wire format) or e-mail (a real SMTP server,
aiosmtpd), once per customer and channel through a re-run and a kill -9, only with a live
personal-data consent, within the SMS limits, after a dry run that shows the parts; the link
from the SMS joins as the links of the CSV do (``test_invites``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bots_harness import Harness

from bots.cli import main
from connectors.sms.text import parts
from flows.types import StartEvent
from tests.fakes.smsru import SmsRuFake, smsru_fake_fixture  # noqa: F401 - provides smsru_fake
from tests.fakes.smtp import SmtpFake, start_smtp

ROOT = Path(__file__).resolve().parents[2]
CSV = """name;phone;email;consent_personal_data;consent_ads;source;tags
Анна;+7 916 123-45-67;anna@mail.ru;2024-05-01;2024-05-01;анкета в салоне;vip
Борис;+7 916 765-43-21;;2024-06-01;;анкета в салоне;
Вера;;vera@mail.ru;2024-07-01;;анкета в салоне;
"""
ANNA, BORIS = "79161234567", "79167654321"


def noon_zone(hour: int = 12) -> str:
    """An ``Etc/GMT…`` zone where it is now about ``hour`` o'clock (the quiet hours of SMS
    are 21:00–09:00 there: a test must not depend on when it runs)."""
    utc = dt.datetime.now(dt.UTC).hour
    offset = (hour - utc + 12) % 24 - 12  # -12 … 11
    return f"Etc/GMT{-offset:+d}"


@dataclass
class Owner:
    """The owner's terminal: a folder with customers.csv, the settings, ``svyaz`` to run."""

    folder: Path
    env: dict[str, str]
    sms: SmsRuFake

    async def svyaz(self, *args: str) -> int:
        return await asyncio.to_thread(main, list(args))

    def links(self) -> str:
        return (self.folder / "invites.csv").read_text(encoding="utf-8")


@pytest.fixture
async def owner(harness: Harness, redis_url: str, bot_prefix: str, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch, smsru_fake: SmsRuFake,  # noqa: F811
                ) -> Owner:
    monkeypatch.chdir(tmp_path)
    env = {"REDIS_URL": redis_url, "BOT": bot_prefix, "LANG": "ru", "VK_TOKEN": "t",
           "VK_GROUP_ID": "77", "MAX_TOKEN": "m", "MAX_BOT_USERNAME": "salon_bot",
           "PUBLIC_URL": "https://bot.example.ru", "FLOWS": str(ROOT / "flows_examples"),
           "TIMEZONE": noon_zone(), "SMS_PROVIDER": "smsru", "SMS_API_ID": smsru_fake.api_id,
           "SMS_API_URL": smsru_fake.url, "SMS_SENDER": "SVYAZ",
           "DATA_DIR": str(tmp_path / "data")}
    for name, value in env.items():
        monkeypatch.setenv(f"SVYAZ_{name}", value)
    (tmp_path / "customers.csv").write_text(CSV, encoding="utf-8")
    made = Owner(tmp_path, {f"SVYAZ_{k}": v for k, v in env.items()}, smsru_fake)
    assert await made.svyaz("import", "customers.csv", "--yes", "--invite", "invites.csv") == 0
    return made


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpFake]:
    server = await start_smtp()
    yield server
    await server.stop()


def sent_to(fake: SmsRuFake) -> list[str]:
    return sorted(m.to.lstrip("+") for m in fake.messages.values())


async def test_the_dry_run_shows_the_parts_and_sends_nothing(
        owner: Owner, harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms") == 0
    out = capsys.readouterr().out
    assert owner.sms.messages == {}
    assert owner.sms.requests == []
    assert "Анна → +79161234567: частей SMS: 4" in out
    assert "Борис → +79167654321: частей SMS: 4" in out
    assert "Вера: не отправляем — нет телефона" in out  # she has only an e-mail
    assert "проверка: SMS 2, частей всего 8 (в одном сообщении 4)" in out
    assert "3 SMS в день на клиента, в месяц без лимита" in out
    assert "Здравствуйте, Анна! Пишите нам в мессенджере по личной ссылке:" in out
    capsys.readouterr()
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms",
                             "--only", "max") == 0  # one link: a shorter, cheaper SMS
    assert "частей всего 4 (в одном сообщении 2)" in capsys.readouterr().out
    for customer in await harness.store.history.customers():
        assert await harness.store.invite_sends.records(customer) == {}


async def test_one_sms_each_whose_link_joins_and_a_rerun_sends_nothing(
        owner: Owner, harness: Harness, capsys: pytest.CaptureFixture[str], smtp: SmtpFake,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    assert "итог: отправлено 2" in capsys.readouterr().out
    assert sent_to(owner.sms) == sorted([ANNA, BORIS])
    anna = next(m for m in owner.sms.messages.values() if m.to.lstrip("+") == ANNA)
    assert anna.text.startswith("Здравствуйте, Анна! Пишите нам в мессенджере по личной")
    assert "ВКонтакте: https://vk.me/club77?ref=link-" in anna.text
    assert anna.sender == "SVYAZ"
    token = re.search(r"max\.ru/salon_bot\?start=link-(\S+)", anna.text)
    assert token is not None
    await harness.send("max", "42", StartEvent(payload=f"link-{token.group(1)}"))
    customer = await harness.customer("max", "42")
    assert (await harness.store.profiles.get(customer)).name == "Анна"
    record = (await harness.store.invite_sends.records(customer))["sms"]
    assert (record.state, record.to, record.parts) == ("sent", "+79161234567", parts(anna.text))

    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    out = capsys.readouterr().out
    assert "→" not in out  # no letter for anybody
    assert "Анна: не отправляем — приглашение (sms) уже отправлялось" in out
    assert "Борис: не отправляем — приглашение (sms) уже отправлялось" in out
    assert len(owner.sms.messages) == 2
    monkeypatch.setenv("SVYAZ_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    monkeypatch.setenv("SVYAZ_MAIL_FROM", "noreply@shop.test")
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "email") == 0
    assert "Анна: не отправляем — клиент уже пишет нам в мессенджере" in capsys.readouterr().out


async def test_only_with_a_live_consent_and_within_the_sms_limits(
        owner: Owner, harness: Harness, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    store = harness.store
    boris = await store.profiles.find_by_phone("+79167654321")
    assert boris is not None
    await store.profiles.record_consent(boris, False, "stop", dt.datetime.now(dt.UTC), "web")
    monkeypatch.setenv("SVYAZ_SMS_MONTHLY_BUDGET", "3")  # Анна's SMS takes 4 parts
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    out = capsys.readouterr().out
    assert "Борис: не отправляем — нет действующего согласия" in out
    assert "месячный бюджет SMS исчерпан 1" in out
    assert owner.sms.messages == {}
    monkeypatch.setenv("SVYAZ_SMS_MONTHLY_BUDGET", "100")  # refused before it left: again
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    assert sent_to(owner.sms) == [ANNA]


async def test_no_sms_in_the_quiet_night(owner: Owner, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SVYAZ_TIMEZONE", noon_zone(23))
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 1
    assert "тихие часы" in capsys.readouterr().err
    assert owner.sms.messages == {}


async def test_a_kill_9_mid_send_never_sends_that_customer_a_second(
        owner: Owner, harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    owner.sms.hang()  # Анна's SMS leaves; its answer never comes
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "invite", "send", "invites.csv", "--by", "sms",
        "--yes", cwd=owner.folder, env={**os.environ, **owner.env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    while not owner.sms.messages:
        await asyncio.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    assert sent_to(owner.sms) == [ANNA]
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    assert sent_to(owner.sms) == sorted([ANNA, BORIS])  # Борис now; Анна never again
    assert "Анна: не отправляем — приглашение (sms) могло уйти" in capsys.readouterr().out
    anna = await harness.store.profiles.find_by_phone("+79161234567")
    assert anna is not None
    assert (await harness.store.invite_sends.records(anna))["sms"].state == "claimed"


async def test_by_email_in_the_owners_words(owner: Owner, harness: Harness, smtp: SmtpFake,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    flows = owner.folder / "flows"
    shutil.copytree(ROOT / "flows_examples", flows)
    with (flows / "_bot.yaml").open("a", encoding="utf-8") as bot:
        bot.write("texts:\n  invite_subject: Салон {{ salon }} в мессенджерах\n"
                  "  invite_email: \"{{ name }}, пишите салону {{ salon }}: {{ max }}\"\n")
    monkeypatch.setenv("SVYAZ_FLOWS", str(flows))
    monkeypatch.setenv("SVYAZ_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    monkeypatch.setenv("SVYAZ_MAIL_FROM", "Салон <noreply@shop.test>")
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "email", "--yes") == 0
    assert sorted(r.rcpt_tos for r in smtp.received) == [("anna@mail.ru",), ("vera@mail.ru",)]
    mail = next(r.message() for r in smtp.received if r.rcpt_tos == ("anna@mail.ru",))
    assert mail["Subject"] == "Салон «Ромашка» в мессенджерах"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert text.startswith("Анна, пишите салону «Ромашка»: https://max.ru/salon_bot?start=link-")
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "email", "--yes") == 0
    assert len(smtp.received) == 2  # never a second


async def test_forget_and_export_reach_the_record(owner: Owner, harness: Harness) -> None:
    from bots.desk.queries import customer_export

    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    anna = await harness.store.profiles.find_by_phone("+79161234567")
    assert anna is not None
    exported = await customer_export(harness.store, anna)
    assert exported["invitations"]["sms"]["to"] == "+79161234567"
    assert exported["invitations"]["sms"]["state"] == "sent"
    await harness.store.forget(anna)
    assert await harness.store.invite_sends.records(anna) == {}
    assert not await harness.store.redis.exists(harness.store.keys.invited(anna))


async def test_a_mistake_in_the_owners_text_is_a_sentence_and_sends_nothing(
        owner: Owner, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    flows = owner.folder / "flows"
    shutil.copytree(ROOT / "flows_examples", flows)
    with (flows / "_bot.yaml").open("a", encoding="utf-8") as bot:
        bot.write("texts:\n  invite_sms: \"{{ nmae }}: {{ links }}\"\n")
    monkeypatch.setenv("SVYAZ_FLOWS", str(flows))
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 1
    assert "_bot.yaml, texts.invite_sms: ошибка в тексте" in capsys.readouterr().err
    assert owner.sms.requests == []


async def test_two_senders_at_once_send_each_customer_one(owner: Owner, harness: Harness
                                                          ) -> None:
    """Two owners' runs planned together (both see nobody invited yet): the claim in Redis,
    not the plan, keeps it to one SMS each."""
    from zoneinfo import ZoneInfo

    from bots.invite_send import Sender, Wording, plan, read_links
    from bots.spare import Spare
    from connectors.sms.smsru import SmsRu
    from flows.schema import Texts

    wanted = read_links(owner.links())
    zone = ZoneInfo(owner.env["SVYAZ_TIMEZONE"])
    spare = Spare(sms=SmsRu(api_id=owner.sms.api_id, sender="SVYAZ", base_url=owner.sms.url))
    plans = [await plan(harness.store, "sms", wanted, Wording(Texts())) for _ in range(2)]
    assert [len(p.letters) for p in plans] == [2, 2]
    senders = [Sender(store=harness.store, spare=spare, zone=zone) for _ in range(2)]
    done = await asyncio.gather(*(s.send(p) for s, p in zip(senders, plans, strict=True)))
    await spare.close()
    assert sorted(sum(done, start=Counter()).items()) == [("already", 2), ("sent", 2)]
    assert sent_to(owner.sms) == sorted([ANNA, BORIS])


async def test_a_merge_keeps_the_record_so_the_merged_customer_is_not_invited_again(
        owner: Owner, harness: Harness) -> None:
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    anna = await harness.store.profiles.find_by_phone("+79161234567")
    assert anna is not None
    await harness.send("vk", "5", StartEvent())
    keep = await harness.customer("vk", "5")
    await harness.store.identities.merge(keep, anna)
    assert (await harness.store.invite_sends.records(keep))["sms"].to == "+79161234567"
