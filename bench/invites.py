"""Invitations by SMS (``svyaz invite send``, ``bots.invite_send``): how long the dry run takes
for a large import, what the Redis work per customer is, and the send rate against the SMS.ru
fake (tests/fakes/smsru.py, on loopback).

Imports ``--customers`` customers into the embedded Redis (a temporary folder), makes their
links (VK, MAX, web chat), plans the SMS (the dry run) and times it, then sends ``--send`` of
them through ``Sender`` (the pace of ``bots.ladder_sends``: 10 SMS/s per process) and checks
that a second run sends none. Ends with ``name: value`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit  # noqa: E402
from bots import importer, invites  # noqa: E402
from bots.invite_send import Plan, Sender, Wording, plan  # noqa: E402
from bots.spare import Spare  # noqa: E402
from connectors.sms.smsru import SmsRu  # noqa: E402
from flows.schema import Texts  # noqa: E402
from storage.embedded import EmbeddedRedis  # noqa: E402
from storage.store import Store  # noqa: E402
from tests.fakes.smsru import SmsRuFake  # noqa: E402

TARGETS = {"vk": "club77", "max": "salon_bot", "web": "https://bot.example.ru"}


def customers_csv(count: int) -> str:
    rows = ["name;phone;email;consent_personal_data;consent_ads;source;tags"]
    rows += [f"Клиент {n};+7916{n:07d};;2024-05-01;;анкета;" for n in range(count)]
    return "\n".join(rows) + "\n"


async def run(args: argparse.Namespace, folder: Path) -> None:
    server = EmbeddedRedis(folder)
    server.start()
    store = Store.from_url(server.url, bot="bench")
    fake = SmsRuFake(balance=Decimal(10**9))
    await fake.start(fake.app)
    spare = Spare(sms=SmsRu(api_id=fake.api_id, sender="SVYAZ", base_url=fake.url),
                  sms_daily_limit=3)
    try:
        rows = importer.read_rows(customers_csv(args.customers))
        created = await importer.apply(store, rows)
        made = await invites.invite(store.identities, [(c, "") for c in created], TARGETS, 86_400)
        wanted: dict[str, dict[str, str]] = {}
        for item in made:
            wanted.setdefault(item.customer, {})[item.channel] = item.link
        started = time.perf_counter()
        dry = await plan(store, "sms", wanted, Wording(Texts()))
        took = time.perf_counter() - started
        emit("invite_dry_run_customers", len(dry.letters))
        emit("invite_dry_run_seconds", took)
        emit("invite_dry_run_ms_per_customer", took * 1000 / max(1, len(wanted)))
        emit("invite_sms_parts_per_message", dry.letters[0].parts)
        emit("invite_sms_parts_total", dry.total_parts)
        await send(store, spare, dry, args.send, fake)
    finally:
        await spare.close()
        await fake.stop()
        await store.close()
        server.stop()


async def send(store: Store, spare: Spare, dry: Plan, count: int, fake: SmsRuFake) -> None:
    part = Plan(dry.by, dry.letters[:count])
    sender = Sender(store=store, spare=spare, zone=ZoneInfo("Europe/Moscow"))
    started = time.perf_counter()
    done = await sender.send(part)
    took = time.perf_counter() - started
    emit("invite_sms_sent", done["sent"])
    emit("invite_sms_per_second", done["sent"] / took)
    again = await sender.send(part)  # the same plan again: every claim is taken
    emit("invite_sms_sent_again", again["sent"])
    emit("invite_sms_at_the_fake", len(fake.messages))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--send", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="svyaz-bench-invites-") as folder:
        asyncio.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
