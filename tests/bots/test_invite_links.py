"""``svyaz invite links`` (``bots.invite_links``) and ``svyaz invite send --again``: new links
for imported customers not yet in a messenger, in place of their old ones (which then join
nothing), a dry run that writes nothing, the reasons a customer gets none, and the new links
sent again by SMS only when the owner asks, once per set of links."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest
import test_invite_send
from bots_harness import Harness
from test_invite_send import ANNA, BORIS, Owner, sent_to

from bots.invite_send import claim_field, digest
from bots.texts import INVITE_JOINED, LINK_EXPIRED
from flows.types import StartEvent
from storage.invites import SentInvite
from tests.fakes.smsru import smsru_fake_fixture  # noqa: F401 - provides smsru_fake

owner = test_invite_send.owner  # the fixture: customers imported with their links


def max_token(text: str) -> str:
    found = re.search(r"max\.ru/salon_bot\?start=link-([A-Za-z0-9_-]+)", text)
    assert found is not None
    return found.group(1)


async def anna(harness: Harness) -> str:
    found = await harness.store.profiles.find_by_phone("+79161234567")
    assert found is not None
    return found


async def test_the_dry_run_writes_nothing(owner: Owner, harness: Harness,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    before = owner.links()
    keys = sorted(await harness.store.redis.keys(f"{harness.store.keys.prefix}*"))
    capsys.readouterr()
    assert await owner.svyaz("invite", "links", "invites.csv") == 0
    out = capsys.readouterr().out
    assert "Анна: новые ссылки (" in out
    assert "проверка: новые ссылки получат 3, их старые ссылки перестанут работать" in out
    assert owner.links() == before
    assert sorted(await harness.store.redis.keys(f"{harness.store.keys.prefix}*")) == keys
    customer = await anna(harness)
    assert await harness.store.identities.invitations.customer_of(max_token(before)) == customer


async def test_new_links_replace_the_old_and_go_again_only_when_asked(
        owner: Owner, harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    assert sent_to(owner.sms) == sorted([ANNA, BORIS])
    old = next(m.text for m in owner.sms.messages.values() if m.to.lstrip("+") == ANNA)
    assert await owner.svyaz("invite", "links", "invites.csv", "--only", "max", "--yes") == 0
    assert "новые ссылки: 3 клиентов (max), записаны в invites.csv" in capsys.readouterr().out
    assert "vk.me" not in owner.links()

    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    assert "Анна: не отправляем — приглашение (sms) уже отправлялось" in \
        capsys.readouterr().out
    assert len(owner.sms.messages) == 2  # the once-ever guarantee without --again
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--again",
                             "--yes") == 0
    assert "итог: отправлено 2" in capsys.readouterr().out
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--again",
                             "--yes") == 0
    assert "Анна: не отправляем — эти ссылки (sms) уже отправлялись" in capsys.readouterr().out
    assert len(owner.sms.messages) == 4  # the same links never twice

    await harness.send("max", "13", StartEvent(payload=f"link-{max_token(old)}"))
    assert harness.texts("max", "13")[0] == LINK_EXPIRED  # the old link joins nothing
    customer = await anna(harness)
    assert await harness.customer("max", "13") != customer
    new = [m.text for m in owner.sms.messages.values() if m.to.lstrip("+") == ANNA][-1]
    assert max_token(new) != max_token(old)
    await harness.send("max", "42", StartEvent(payload=f"link-{max_token(new)}"))
    assert harness.texts("max", "42")[0] == INVITE_JOINED
    assert await harness.customer("max", "42") == customer
    records = await harness.store.invite_sends.records(customer)
    assert sorted(records) == ["sms", f"sms:{digest({'max': f'link-{max_token(new)}'})}"]


async def test_who_gets_no_new_links_and_why(owner: Owner, harness: Harness,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import datetime as dt

    store = harness.store
    boris = await store.profiles.find_by_phone("+79167654321")
    assert boris is not None
    await store.profiles.record_consent(boris, False, "stop", dt.datetime.now(dt.UTC), "web")
    await harness.send("max", "42", StartEvent(payload=f"link-{max_token(owner.links())}"))
    vera = next(row.split(",")[0] for row in owner.links().splitlines() if "Вера" in row)
    await store.forget(vera)
    capsys.readouterr()
    assert await owner.svyaz("invite", "links", "invites.csv", "--yes") == 0
    out = capsys.readouterr().out
    assert "Анна: новых ссылок не будет — клиент уже пишет нам в мессенджере" in out
    assert "Борис: новых ссылок не будет — нет действующего согласия" in out
    assert "Вера: новых ссылок не будет — такого клиента нет (удалён?)" in out
    assert "новые ссылки: 0 клиентов" in out
    assert await store.identities.invitations.erase(vera) == 0  # none made for the erased


async def test_forget_and_export_reach_a_record_sent_again(owner: Owner,
                                                           harness: Harness) -> None:
    from bots.desk.queries import customer_export

    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    assert await owner.svyaz("invite", "links", "invites.csv", "--yes") == 0
    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--again",
                             "--yes") == 0
    customer = await anna(harness)
    exported = await customer_export(harness.store, customer)
    again = [k for k in exported["invitations"] if k.startswith("sms:")]
    assert len(again) == 1
    assert exported["invitations"][again[0]]["to"] == "+79161234567"
    await harness.store.forget(customer)
    assert await harness.store.invite_sends.records(customer) == {}


def test_the_field_a_send_claims() -> None:
    sent = {"sms": SentInvite("sent", 1.0, "+7", links="aaa")}
    assert claim_field({}, "sms", "aaa", again=False) == "sms"
    assert claim_field({}, "sms", "aaa", again=True) == "sms"
    assert str(claim_field(sent, "sms", "bbb", again=False)).startswith("приглашение (sms)")
    assert claim_field(sent, "sms", "bbb", again=True) == "sms:bbb"
    assert str(claim_field(sent, "sms", "aaa", again=True)).startswith("эти ссылки")
    assert claim_field(sent, "email", "aaa", again=False) == "email"


async def test_two_senders_again_at_once_send_the_new_links_once(owner: Owner,
                                                                 harness: Harness) -> None:
    """Two ``--again`` runs planned together: the claim of ``sms:<links>`` in Redis, not the
    plan, keeps the new links to one SMS each."""
    from zoneinfo import ZoneInfo

    from bots.invite_send import Sender, Wording, plan, read_links
    from bots.spare import Spare
    from connectors.sms.smsru import SmsRu
    from flows.schema import Texts

    assert await owner.svyaz("invite", "send", "invites.csv", "--by", "sms", "--yes") == 0
    assert await owner.svyaz("invite", "links", "invites.csv", "--yes") == 0
    wanted = read_links(owner.links())
    spare = Spare(sms=SmsRu(api_id=owner.sms.api_id, sender="SVYAZ", base_url=owner.sms.url))
    plans = [await plan(harness.store, "sms", wanted, Wording(Texts()), again=True)
             for _ in range(2)]
    assert [len(p.letters) for p in plans] == [2, 2]
    zone = ZoneInfo(owner.env["SVYAZ_TIMEZONE"])
    senders = [Sender(store=harness.store, spare=spare, zone=zone) for _ in range(2)]
    done = await asyncio.gather(*(s.send(p) for s, p in zip(senders, plans, strict=True)))
    await spare.close()
    assert sorted(sum(done, start=Counter()).items()) == [("already", 2), ("sent", 2)]
    assert sent_to(owner.sms) == sorted([ANNA, ANNA, BORIS, BORIS])
