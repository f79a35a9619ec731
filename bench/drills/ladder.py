"""Drill: the escalation ladder of critical notices (issue 14) under ``kill -9``.

``--customers`` customers, each with a phone and an e-mail in the profile, consent granted, a
linked MAX and VK account, get one critical reminder each (``escalate: [messenger, sms,
email]``, ``within: 1m``, ``urgent: true`` so the night rule stays out of the way whatever the
hour in the bot's Europe/Moscow), all due at the same moment, added through
``bots.scheduler.ReminderService`` on the bot's Redis (as bench/reminders.py does) before the
first kill; the reminder runs the flow ``ladder_notice`` the drill writes into its temp dir.
MAX refuses every send (403 ``chat.denied``: the bot is blocked) and so does VK (error 901),
so every notice climbs to SMS. The SMS.ru fake answers HTTP 429 above ``--sms-rps`` accepted
requests in any second and cuts the connection after taking one send in ``--drop-every`` (the
SMS went out, the answer is lost: the doubt path). E-mail goes to a real SMTP server
(aiosmtpd). Every ``--every`` s (jittered) ``svyaz run`` gets SIGKILL and is started again on
the same data folder, as kill9.py does, until every customer got an SMS or an e-mail with
text (an empty one reaches nobody) or ``--deadline`` passes; then the last process runs
``--tail`` s unkilled and the notice records are read from its Redis.

Targets: ``sms_doubled`` 0 (never two SMS to one customer), ``unreached`` 0.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import shutil
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    BotProcess,
    emit,
    free_port,
    start_bot,
    start_max_fake,
    svyaz_argv,
    svyaz_env,
    temp_dir,
)
from bench.drills.harness import TimedVkFake  # noqa: E402
from bench.drills.kill9 import kill_tree  # noqa: E402
from bots.ladder import notice_id_of  # noqa: E402
from bots.metrics import Metrics  # noqa: E402
from bots.scheduler import ReminderService  # noqa: E402
from flows.types import Event, Ladder, ScheduleReminder  # noqa: E402
from storage.notices import Notice  # noqa: E402
from storage.store import Store  # noqa: E402
from tests.fakes.smsru import SmsRuFake  # noqa: E402
from tests.fakes.smtp import Received, SmtpFake, start_smtp  # noqa: E402

ZONE = ZoneInfo("Europe/Moscow")
BASE_USER = 70_000_000
KEY = "ladder-drill"
FLOW = """\
flow: ladder_notice
title: Важное уведомление
triggers:
  - timer: true
steps:
  notice:
    say: Завтра в 10:00 ваша запись. Если не сможете прийти, ответьте нам.
    end: true
"""
PLAN = Ladder(rungs=("messenger", "sms", "email"), within=timedelta(minutes=1), urgent=True)


class LimitedSmsRu(SmsRuFake):
    """SMS.ru with a provider-side rate limit (429 above ``limit`` accepted sends in any
    second) and a lost answer after one taken send in ``drop_every``."""

    limit: int = 0
    drop_every: int = 0
    throttled: int = 0
    accepted_at: list[float]
    asked_at: list[float]

    def configure(self, *, limit: int, drop_every: int) -> None:
        self.limit, self.drop_every = limit, drop_every
        self.accepted_at, self.asked_at = [], []
        self.balance = Decimal(10**9)

    async def _send(self, request: web.Request, params: dict[str, str]) -> web.Response:
        now = time.monotonic()
        self.asked_at.append(now)
        recent = sum(now - t < 1.0 for t in self.accepted_at[-self.limit:])
        if self.limit and recent >= self.limit:
            self.throttled += 1
            return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": "1"})
        self.accepted_at.append(now)
        if self.drop_every and len(self.accepted_at) % self.drop_every == 0:
            self.drop()  # taken, then the connection is cut
        return await super()._send(request, params)


def most_in_a_second(stamps: list[float]) -> int:
    best, start = 0, 0
    for end, at in enumerate(stamps):
        while at - stamps[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def phone_of(n: int) -> str:
    return f"+7916{n:07d}"


def email_of(n: int) -> str:
    return f"c{n}@example.ru"


async def nowhere(customer: str, event: Event, *, event_id: str) -> bool:
    return False


def write_flows(folder: Path) -> Path:
    """The shipped examples plus the notice flow the reminders run."""
    shutil.copytree(ROOT / "flows_examples", folder)
    (folder / "ladder_notice.yaml").write_text(FLOW, encoding="utf-8")
    return folder


async def prepare(url: str, count: int, lead: float) -> tuple[list[str], datetime]:
    """Customers with contacts and consent, then one critical reminder each, due together."""
    store = Store.from_url(url)
    service = ReminderService(store=store, redis_url=url, metrics=Metrics(), inject=nowhere,
                              zone=ZONE)
    await service.start(lead=False)
    customers: list[str] = [""] * count
    queue = list(range(count))

    async def person() -> None:
        while queue:
            n = queue.pop()
            customer = await store.identities.resolve(f"max:{BASE_USER + n}")
            await store.identities.attach(f"vk:{BASE_USER + n}", customer, time.time() - 60)
            await store.profiles.record_consent(customer, True, "v1", datetime.now(ZONE), "max")
            await store.profiles.set_field(customer, "phone", phone_of(n))
            await store.profiles.set_field(customer, "email", email_of(n))
            customers[n] = customer

    try:
        await asyncio.gather(*(person() for _ in range(16)))
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
        queue = list(range(count))

        async def remind() -> None:
            while queue:
                reminder = ScheduleReminder(key=KEY, at=due, flow="ladder_notice",
                                            critical=True, ladder=PLAN)
                await service.schedule(customers[queue.pop()], reminder)

        await asyncio.gather(*(remind() for _ in range(16)))
        stored = await service.of_customer(customers[0])
        return customers, stored[0].at if stored else due
    finally:
        await service.stop()
        await store.close()


async def sms_doubt_now(session: aiohttp.ClientSession, url: str) -> float:
    """``svyaz_sms_doubt_total`` of the live process (it counts from 0 after each start)."""
    try:
        async with session.get(url + "/metrics", timeout=aiohttp.ClientTimeout(total=2)) as r:
            text = await r.text()
    except (aiohttp.ClientError, TimeoutError, OSError):
        return 0.0
    for line in text.splitlines():
        if line.startswith("svyaz_sms_doubt_total "):
            return float(line.split()[1])
    return 0.0


class Chaos:
    """Kills and restarts the bot until stopped; the live one is ``bots[-1]``."""

    def __init__(self, bots: list[BotProcess], env: dict[str, str], every: float) -> None:
        self.bots, self.env, self.every = bots, env, every
        self.kills = self.orphans = 0
        self.doubt_seen = 0.0  # svyaz_sms_doubt summed over the processes, read before kills

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), random.uniform(0.5, 1.5) * self.every)
                    return
                except TimeoutError:
                    pass
                bot = self.bots[-1]
                self.doubt_seen += await sms_doubt_now(session, bot.url)
                self.orphans += kill_tree(bot.proc.pid)
                bot.proc.wait()
                self.kills += 1
                self.bots.append(await start_bot(svyaz_argv(), self.env, data_dir=bot.data_dir,
                                                 port=bot.port, core=None))


def reached(sms: LimitedSmsRu, smtp: SmtpFake, count: int) -> tuple[Counter[int], Counter[int]]:
    by_phone = {phone_of(n)[1:]: n for n in range(count)}
    by_mail = {email_of(n): n for n in range(count)}
    texts = Counter(by_phone[m.to] for m in list(sms.messages.values()) if m.to in by_phone)
    mails = Counter(by_mail[rcpt] for mail in list(smtp.received) for rcpt in mail.rcpt_tos
                    if rcpt in by_mail and has_text(mail))  # an empty one reached nobody
    return texts, mails


async def notices(url: str, customers: list[str], due: datetime) -> list[Notice | None]:
    """Each customer's notice; the history of the first few without a kept text (stderr)."""
    notice_id = notice_id_of(f"timer:{KEY}:{due.isoformat()}")
    assert notice_id is not None
    store = Store.from_url(url)
    try:
        found = [await store.notices.get(c, notice_id) for c in customers]
        textless = [x for x in found if x is not None and not x.text]
        planless = [x for x in textless if x.within != PLAN.within.total_seconds()]
        for n, customer in enumerate(customers):
            if found[n] is None:  # the reminder opened nothing
                entries = await store.history.read(customer)
                print(f"history of customer {n} {customer} (no notice): "
                      f"{[e.note or e.text for e in entries]}; notice ids kept: "
                      f"{await store.redis.exists(store.keys.notice_ids(customer))}",
                      file=sys.stderr)
        for notice in textless[:2] + planless[:2]:
            entries = await store.history.read(notice.customer)
            notes = [f"{e.direction}:{e.note or e.text}" for e in entries]
            print(f"history of {notice.customer} (notice without text, within "
                  f"{notice.within:.0f} s, urgent {notice.urgent}): {notes}",
                  file=sys.stderr)
        return found
    finally:
        await store.close()


@functools.cache
def has_text(mail: Received) -> bool:
    return bool(body_of(mail).strip())


def body_of(mail: Received) -> str:
    part = mail.message().get_body(("plain",))
    return "" if part is None else str(part.get_content())


def describe(notice: Notice | None) -> str:
    if notice is None:
        return "no notice"
    now = time.time()
    rungs = ", ".join("-" if r is None else f"{r.status}@{r.at - notice.created:+.1f}s"
                      for r in notice.outcomes)
    return (f"{notice.customer} state={notice.state} at={notice.at} text={len(notice.text)}ch "
            f"next_check={notice.next_check - now:+.1f}s from now, created "
            f"{now - notice.created:.1f}s ago; rungs: {rungs}")


def report_notices(found: list[Notice | None], texts: Counter[int],
                   mails: Counter[int]) -> None:
    doubt = other = 0
    states: Counter[str] = Counter()
    sms_rung: Counter[str] = Counter()
    for n, notice in enumerate(found):
        states[notice.state if notice else "none"] += 1
        rung = notice.outcomes[1] if notice else None
        status: str = "never claimed" if rung is None else f"{rung.status} {rung.reason}"
        sms_rung[status.strip()] += 1
        if mails[n] and not texts[n]:
            if rung is not None and rung.status in ("unknown", "claimed"):
                doubt += 1
            else:
                other += 1
    if odd := [(n, x) for n, x in enumerate(found) if not (texts[n] or mails[n])
               or (x is not None and x.outcomes[1] is not None
                   and x.outcomes[1].status == "claimed")]:
        print("odd notices (unreached, or an SMS rung claimed and never settled):",
              file=sys.stderr)
        for n, notice in odd[:20]:
            print(f"  customer {n}: sms={texts[n]} mails={mails[n]} {describe(notice)}",
                  file=sys.stderr)
    emit("notices_without_text", sum(x is not None and not x.text for x in found))
    emit("notices_without_plan", sum(x is not None and x.within != PLAN.within.total_seconds()
                                     for x in found))  # within/urgent/until lost: defaults
    emit("reached_by_email_after_doubt", doubt)  # the SMS went out (or may have): no retry
    emit("reached_by_email_other", other)
    for state, count in sorted(states.items()):
        emit(f"notices_{state}", count)
    for status, count in sorted(sms_rung.items()):
        emit(f"sms_rung[{status[:60]}]", count)


async def drill(args: argparse.Namespace) -> None:
    max_fake, max_runner = await start_max_fake()
    max_fake.keep_requests = False
    max_fake.blocked.update(BASE_USER + n for n in range(args.customers))
    vk = await TimedVkFake().start()
    for n in range(args.customers):
        vk.blocked[BASE_USER + n] = 901  # "can't send messages for users without permission"
    sms = LimitedSmsRu()
    sms.configure(limit=args.sms_rps, drop_every=args.drop_every)
    await sms.start(sms.app)
    smtp = await start_smtp()
    port = free_port()
    started = time.monotonic()
    with temp_dir("svyaz-ladder-") as work:
        env = svyaz_env(data_dir=work / "bot", port=port, max_url=max_fake.url,
                        vk_url=vk.api_url, extra={
                            "SVYAZ_FLOWS": str(write_flows(work / "flows")),
                            "SVYAZ_SMS_PROVIDER": "smsru", "SVYAZ_SMS_API_ID": sms.api_id,
                            "SVYAZ_SMS_API_URL": sms.url, "SVYAZ_SMS_DAILY_LIMIT": "3",
                            "SVYAZ_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
                            "SVYAZ_MAIL_FROM": "Салон <noreply@shop.test>"})
        bots = [await start_bot(svyaz_argv(), env, data_dir=work / "bot", port=port, core=None)]
        redis_url = f"unix://{work / 'bot' / 'redis.sock'}"
        customers, due = await prepare(redis_url, args.customers, args.lead)
        emit("prepared_seconds", time.monotonic() - started)
        chaos, stop = Chaos(bots, env, args.every), asyncio.Event()
        task = asyncio.create_task(chaos.run(stop))
        deadline = time.monotonic() + args.deadline
        try:
            while time.monotonic() < deadline and not task.done():
                texts, mails = reached(sms, smtp, args.customers)
                if sum(bool(texts[n] or mails[n]) for n in range(args.customers)) \
                        == args.customers:
                    break
                await asyncio.sleep(1.0)
            elapsed = time.monotonic() - started
            stop.set()
            await task
            await asyncio.sleep(args.tail)  # the last process, unkilled: late sends show
            async with aiohttp.ClientSession() as session:
                chaos.doubt_seen += await sms_doubt_now(session, bots[-1].url)
            found = await notices(redis_url, customers, due)
        finally:
            stop.set()
            bots[-1].stop()
            if args.keep_log:
                shutil.copy(bots[-1].log_path, args.keep_log)
    texts, mails = reached(sms, smtp, args.customers)
    emit("customers", args.customers)
    emit("kills", chaos.kills)
    emit("orphaned_redis_servers", chaos.orphans)
    emit("sms_sent", len(sms.messages))
    emit("sms_doubled", sum(c > 1 for c in texts.values()))
    emit("emails", len(smtp.received))
    emit("emails_without_text", sum(not has_text(mail) for mail in smtp.received))
    emit("emails_doubled", sum(c > 1 for c in mails.values()))
    emit("reached_by_sms", sum(1 for c in texts.values() if c))
    report_notices(found, texts, mails)
    emit("sms_doubt_metric", chaos.doubt_seen)  # summed over processes; a kill loses some
    emit("unreached", sum(not (texts[n] or mails[n]) for n in range(args.customers)))
    emit("sms_rate_limit", args.sms_rps)
    emit("sms_accepted_most_in_a_second", most_in_a_second(sms.accepted_at))
    emit("sms_requests_most_in_a_second", most_in_a_second(sms.asked_at))
    emit("sms_429", sms.throttled)
    emit("rate_limit_kept", most_in_a_second(sms.accepted_at) <= args.sms_rps)
    emit("elapsed", elapsed)
    await smtp.stop()
    await sms.stop()
    await vk.close()
    await max_runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--every", type=float, default=4.0, help="seconds between kills (±50 %%)")
    parser.add_argument("--deadline", type=float, default=180.0)
    parser.add_argument("--lead", type=float, default=5.0,
                        help="seconds from the last reminder scheduled to their due time")
    parser.add_argument("--sms-rps", type=int, default=20,
                        help="SMS.ru fake: 429 above this many accepted sends in any second")
    parser.add_argument("--drop-every", type=int, default=50,
                        help="SMS.ru fake: cut the connection after one taken send in N")
    parser.add_argument("--tail", type=float, default=10.0,
                        help="seconds the last process runs unkilled before the count")
    parser.add_argument("--keep-log", help="copy the last svyaz process's log here")
    args = parser.parse_args()
    asyncio.run(drill(args))


if __name__ == "__main__":
    main()
