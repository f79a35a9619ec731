"""``svyaz invite send invites.csv --by sms|email [--only max,vk] [--again] [--yes]``: the
imported customers' invitation links (``svyaz import --invite``) sent by SMS or e-mail;
``svyaz invite links invites.csv [--only max,vk] [--days N] [--yes]``: new links, in place of
the old ones, for those of them not yet in a messenger (``bots.invite_links``).

Without ``--yes`` a dry run: who gets what, who is skipped and why, the first text, and for
SMS the parts per message and in all against the limits. With ``--yes`` the same, then the
sends and what became of them. A re-run sends only what never went; ``--again`` sends new
links to whom older ones went. This module parses arguments and prints; the decisions and the
sends are ``bots.invite_send``'s and ``bots.invite_links``'.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bots import invite_links, invite_send
from bots.access import bot_store
from bots.cmd_broadcast import offline_targets
from bots.cmd_flows import load_or_report, owner_lang, owner_says
from bots.cmd_run import refuse
from bots.config import ConfigError, Settings, load_settings
from bots.invite_send import By, Plan, Sender, Wording
from bots.invites import as_csv
from bots.spare import Spare, make_spare
from flows.catalogue import CATALOGUE
from flows.errors import SvyazError
from flows.messages import Lang, msg
from flows.templates import TemplateProblem, TemplateRenderError
from storage.keys import DAY, INVITE_TTL


def register(sub: argparse._SubParsersAction[Any]) -> None:
    say = owner_says
    p = sub.add_parser("invite", help=say("cli.invite"), description=say("cli.invite"))
    p.add_argument("action", choices=("send", "links"), help=say("cli.invite.action"))
    p.add_argument("file", type=Path, help=say("cli.invite.file"))
    p.add_argument("--by", choices=("sms", "email"), default=None, help=say("cli.invite.by"))
    p.add_argument("--only", default="", metavar="max,vk", help=say("cli.invite.only"))
    p.add_argument("--again", action="store_true", help=say("cli.invite.again"))
    p.add_argument("--days", type=int, default=INVITE_TTL // DAY,
                   help=say("cli.import.days"))
    p.add_argument("--yes", action="store_true", help=say("cli.invite.yes"))
    p.set_defaults(handler=invite_command)


def _only(args: argparse.Namespace) -> set[str]:
    return {c.strip() for c in args.only.split(",") if c.strip()}


def invite_command(args: argparse.Namespace) -> int:
    lang = owner_lang()
    if args.action == "links":
        return links_command(args)
    if args.by is None:
        print(msg("invite.no_by").render(lang), file=sys.stderr)
        return 2
    try:
        settings = load_settings(env_file=".env")
        wanted = invite_send.read_links(args.file.read_text(encoding="utf-8-sig"),
                                        only=_only(args))
    except ConfigError as exc:
        refuse(msg("settings.refused"), exc.found)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(f"svyaz invite: {args.file}: {exc}", file=sys.stderr)
        return 1
    flows = load_or_report(str(settings.flows))
    spare = make_spare(settings)
    if not wanted or flows is None or _unset(spare, args.by):
        if not wanted:
            print(msg("invite.empty", file=args.file).render(lang), file=sys.stderr)
        elif flows is not None:
            print(msg(f"invite.no_sender.{args.by}").render(lang), file=sys.stderr)
        return 1
    wording = Wording(flows.texts, flows.constants)
    try:
        return asyncio.run(_go(settings, spare, args, wanted, wording, lang))
    except (TemplateProblem, TemplateRenderError) as exc:
        key = "invite_sms" if args.by == "sms" else "invite_email (invite_subject)"
        print(msg("invite.bad_text", key=key, error=str(exc)).render(lang), file=sys.stderr)
    except SvyazError as exc:
        print(f"svyaz invite: {exc}", file=sys.stderr)
    return 1


def _unset(spare: Spare, by: By) -> bool:
    return (spare.sms if by == "sms" else spare.email) is None


async def _go(settings: Settings, spare: Spare, args: argparse.Namespace,
              wanted: dict[str, dict[str, str]], wording: Wording, lang: Lang) -> int:
    try:
        async with bot_store(settings) as bot:
            made = await invite_send.plan(bot.store, args.by, wanted, wording,
                                          again=args.again)
            _report(made, lang)
            sender = Sender(store=bot.store, spare=spare, zone=settings.zone)
            morning = sender.night() if args.by == "sms" else None
            if morning is not None:  # (said in a dry run too: the owner plans the morning)
                print(msg("invite.night", time=morning.strftime("%H:%M")).render(lang),
                      file=sys.stderr)
            if not args.yes:
                print(_dry(made, spare, lang))
                return 0
            if morning is not None:
                return 1
            done = await sender.send(made)
            print(msg("invite.done", outcomes=_outcomes(done, lang)).render(lang))
            return 0
    finally:
        await spare.close()


def _report(made: Plan, lang: Lang) -> None:
    for letter in made.letters:
        cost = msg("invite.cost", parts=letter.parts) if made.by == "sms" else msg("empty")
        print(msg("invite.letter", who=letter.name or letter.customer, to=letter.to,
                  cost=cost).render(lang))
    for skipped in made.skipped:
        print(msg("invite.skipped", who=skipped.name or skipped.customer,
                  reason=skipped.reason).render(lang))
    if made.letters:
        print(msg("invite.sample").render(lang))
        print("  " + made.letters[0].text.replace("\n", "\n  "))


def _dry(made: Plan, spare: Spare, lang: Lang) -> str:
    if made.by == "email":
        return msg("invite.dry.email", count=len(made.letters)).render(lang)
    each = sorted({letter.parts for letter in made.letters}) or [0]
    per = str(each[0]) if len(each) == 1 else f"{each[0]}–{each[-1]}"
    budget = (msg("invite.budget.none") if spare.sms_monthly_budget is None
              else msg("invite.budget.parts", parts=spare.sms_monthly_budget))
    return msg("invite.dry.sms", count=len(made.letters), parts=made.total_parts, per=per,
               daily=spare.sms_daily_limit, budget=budget).render(lang)


def _outcomes(done: Counter[str], lang: Lang) -> str:
    """«отправлено 3, уже отправлялось 1»: the catalogue's word for an outcome, else its name
    (a provider's refusal reason, e.g. bad_number)."""
    words = []
    for outcome, count in sorted(done.items()):
        key = f"invite.outcome.{outcome}"
        words.append(f"{msg(key).render(lang) if _known(key) else outcome} {count}")
    return ", ".join(words) or "—"


def _known(key: str) -> bool:
    return key in CATALOGUE


def links_command(args: argparse.Namespace) -> int:
    """``svyaz invite links``: a dry run, or (``--yes``) new links written over ``file``."""
    lang = owner_lang()
    try:
        settings = load_settings(env_file=".env")
        wanted = invite_links.read_customers(args.file.read_text(encoding="utf-8-sig"))
    except ConfigError as exc:
        refuse(msg("settings.refused"), exc.found)
        return 2
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"svyaz invite: {args.file}: {exc}", file=sys.stderr)
        return 1
    only = _only(args)
    targets = {ch: to for ch, to in offline_targets(settings).items() if not only or ch in only}
    if not targets or not wanted or args.days < 1:
        key = "import.no_invite_channel" if not targets else (
            "invite.links.none" if not wanted else "invite.links.days")
        print(msg(key, file=args.file).render(lang), file=sys.stderr)
        return 1
    return asyncio.run(_links(settings, args, wanted, targets, lang))


async def _links(settings: Settings, args: argparse.Namespace, wanted: dict[str, str],
                 targets: dict[str, str], lang: Lang) -> int:
    channels = ", ".join(targets)
    async with bot_store(settings) as bot:
        made = await invite_links.plan(bot.store, wanted)
        for customer, name in made.customers:
            print(msg("invite.links.row", who=name or customer, channels=channels).render(lang))
        for skipped in made.skipped:
            print(msg("invite.links.skipped", who=skipped.name or skipped.customer,
                      reason=skipped.reason).render(lang))
        if not args.yes:
            print(msg("invite.links.dry", count=len(made.customers)).render(lang))
            return 0
        fresh = await invite_links.renew(bot.store.identities, made.customers, targets,
                                         args.days * DAY)
    if fresh:  # nobody renewed: the file stays as it was
        args.file.write_text(as_csv(fresh), encoding="utf-8")
    print(msg("invite.links.done", count=len(made.customers), channels=channels,
              file=args.file).render(lang))
    return 0
