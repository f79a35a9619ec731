"""The business owner's flow tools: ``svyaz check | chat | test | graph | schema``.

Owns the command-line surface over ``flows``: validation output in the compiler form
(``file:line:col: severity: message``) with exit codes, the terminal chat
(``bots.flowchat``), conversation tests, pictures of a flow (Mermaid text; SVG/PNG through
Graphviz ``dot`` when installed) and the JSON Schema for editors.

It must not touch Redis or the platforms; it reads flow folders and writes only the files
the owner names with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bots.desk.canned import load_canned
from bots.flowchat import ChatSession, run_chat
from bots.flowgraph import dot, mermaid
from connectors.registry import INSTALLED
from flows import broadcast, convcheck, convtest, schema, segments
from flows.loader import check, load
from flows.messages import Lang, Msg, lang_of, msg
from flows.model import CompiledFlow, FlowSet
from flows.problems import FlowLoadError, Problem
from flows.types import Event, StartEvent, StartFlowEvent

NO_TESTS = 5  # like pytest: nothing was tested


def _default_folder() -> str:
    return os.environ.get("SVYAZ_FLOWS", "flows_examples")


def _timezone() -> str:
    return os.environ.get("SVYAZ_TIMEZONE", "Europe/Moscow")


def send_only_channels() -> tuple[str, ...]:
    """The installed channels that carry notices only (SMS, e-mail): no dialogue there."""
    return INSTALLED.send_only()


def owner_lang() -> Lang:
    """The language of the owner's tools: Russian unless ``SVYAZ_LANG=en``. The locale
    (``LANG``, ``LC_*``) is not followed: servers often run with an English one."""
    return lang_of(os.environ.get("SVYAZ_LANG"))


def owner_says(key: str, **args: object) -> str:
    """The catalogue's ``key`` worded in the owner's language (``owner_lang``)."""
    return msg(key, **args).render(owner_lang())


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's sub-commands to the parser (their help in the owner's language)."""
    say = owner_says
    p = sub.add_parser("check", help=say("cli.check"), description=say("cli.check"))
    p.add_argument("folder", nargs="?", default=None, help=say("cli.folder"))
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("chat", help=say("cli.chat"), description=say("cli.chat"))
    p.add_argument("folder", nargs="?", default=None, help=say("cli.folder"))
    p.add_argument("--flow", help=say("cli.chat.flow"))
    p.add_argument("--now", help=say("cli.chat.now"))
    p.add_argument("--http-fail", action="store_true", help=say("cli.chat.http_fail"))
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser("test", help=say("cli.test"), description=say("cli.test"))
    p.add_argument("folder", nargs="?", default=None, help=say("cli.folder"))
    p.set_defaults(handler=cmd_test)

    p = sub.add_parser("graph", help=say("cli.graph"), description=say("cli.graph"))
    p.add_argument("flow", help=say("cli.graph.flow"))
    p.add_argument("--folder", default=None, help=say("cli.folder"))
    p.add_argument("--out", help=say("cli.graph.out"))
    p.set_defaults(handler=cmd_graph)

    p = sub.add_parser("schema", help=say("cli.schema"), description=say("cli.schema"))
    p.add_argument("--out", help=say("cli.schema.out"))
    p.add_argument("--settings", action="store_true", help=say("cli.schema.settings"))
    p.add_argument("--segments", action="store_true", help=say("cli.schema.segments"))
    p.set_defaults(handler=cmd_schema)


# --------------------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    folder = args.folder or _default_folder()
    lang = owner_lang()
    flows, problems = check(folder, timezone=_timezone(), channels=INSTALLED.names(),
                            send_only=send_only_channels(), lang=lang)
    if Path(folder).is_dir():
        problems += tuple(convcheck.check_tests(folder, flows, lang=lang))
    canned = load_canned(Path(folder))[1]  # the desk's _desk.yaml
    tags = None if flows is None else segments.tags_set(flows)
    steps = None if flows is None else segments.reachable(flows)
    found, named = segments.read(folder, channels=INSTALLED.names(), tags=tags, steps=steps)
    sent = broadcast.check_folder(folder, found, steps)  # broadcasts/*.yaml
    problems = (*problems, *(p.in_lang(lang) for p in (*canned, *named, *sent)))
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if flows is None or errors:
        print(msg("check.failed", folder=folder, errors=errors, warnings=warnings).render(lang))
        return 1
    print(msg("check.ok", folder=folder, flows=len(flows.flows), warnings=warnings).render(lang))
    return 0


def known_steps(folder: str) -> frozenset[str] | None:
    """The flows and ``flow.step``s of ``folder`` (``segments.reachable``); None when its
    flows do not load (``svyaz check`` tells why)."""
    flows, _ = check(folder, timezone=_timezone(), channels=INSTALLED.names(),
                     send_only=send_only_channels(), lang=owner_lang())
    return None if flows is None else segments.reachable(flows)


def load_or_report(folder: str) -> FlowSet | None:
    """The folder's ``FlowSet``, or None after printing its problems to stderr."""
    try:
        return load(folder, timezone=_timezone(), channels=INSTALLED.names(),
                    send_only=send_only_channels(), lang=owner_lang())
    except FlowLoadError as exc:
        _print_problems(exc.problems)
        return None


def _print_problems(problems: tuple[Problem, ...]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    errors = sum(p.severity == "error" for p in problems)
    print(msg("check.see_check", errors=errors).render(owner_lang()), file=sys.stderr)


# --------------------------------------------------------------------------- chat


def cmd_chat(args: argparse.Namespace) -> int:
    folder = args.folder or _default_folder()
    flows = load_or_report(folder)
    if flows is None:
        return 1
    lang = owner_lang()
    try:
        now = _start_time(args.now, flows.timezone)
    except ValueError:
        _error(msg("chat.bad_now", value=repr(args.now)))
        return 2
    if args.flow and args.flow not in flows.flows:
        _error(_no_flow(args.flow, flows))
        return 2
    session = ChatSession.start(flows, sys.stdout, now=now, lang=lang)
    session.http_ok = not args.http_fail
    print(msg("chat.banner", folder=folder, now=f"{session.now:%Y-%m-%d %H:%M}",
              timezone=flows.timezone).render(lang))
    first: Event = StartFlowEvent(flow=args.flow) if args.flow else StartEvent()
    run_chat(session, sys.stdin, prompt=sys.stdin.isatty(), first=first)
    return 0


def _error(message: Msg) -> None:
    print(message.render(owner_lang()), file=sys.stderr)


def _no_flow(name: str, flows: FlowSet) -> Msg:
    return msg("cli.no_flow", flow=name, flows=", ".join(sorted(flows.flows)))


def _start_time(text: str | None, timezone: str) -> datetime | None:
    """``--now`` as an aware time in the business time zone (None: the real clock)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


# --------------------------------------------------------------------------- test


def cmd_test(args: argparse.Namespace) -> int:
    folder = args.folder or _default_folder()
    flows = load_or_report(folder)
    if flows is None:
        return 1
    lang = owner_lang()
    results = convtest.run_folder(folder, flows, lang=lang, send_only=send_only_channels())
    for result in results:
        mark = msg("test.pass" if result.ok else "test.fail").render(lang)
        print(f"{mark} {result.file}: {result.name}")
        if not result.ok:
            print("    " + result.diff.rstrip().replace("\n", "\n    "))
    failed = sum(not r.ok for r in results)
    if not results:
        print(msg("test.none", folder=folder).render(lang))
        return NO_TESTS
    print(msg("test.summary", folder=folder, passed=len(results) - failed,
              failed=failed).render(lang))
    return 1 if failed else 0


# --------------------------------------------------------------------------- graph


def cmd_graph(args: argparse.Namespace) -> int:
    flows = load_or_report(args.folder or _default_folder())
    if flows is None:
        return 1
    flow = flows.flows.get(args.flow)
    if flow is None:
        _error(_no_flow(args.flow, flows))
        return 2
    out = Path(args.out) if args.out else None
    if out is None:
        print(mermaid(flow), end="")
        return 0
    if out.suffix in (".svg", ".png"):
        return _graphviz(flow, out)
    out.write_text(dot(flow) if out.suffix == ".dot" else mermaid(flow), encoding="utf-8")
    print(msg("cli.wrote", path=out).render(owner_lang()))
    return 0


def _graphviz(flow: CompiledFlow, out: Path) -> int:
    program = shutil.which("dot")
    if program is None:
        _error(msg("graph.no_dot"))
        return 1
    done = subprocess.run(
        [program, f"-T{out.suffix[1:]}", "-o", str(out)],
        input=dot(flow).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        _error(msg("graph.dot_failed", error=done.stderr.decode(errors="replace").strip()))
        return 1
    print(msg("cli.wrote", path=out).render(owner_lang()))
    return 0


# --------------------------------------------------------------------------- schema


def cmd_schema(args: argparse.Namespace) -> int:
    document = (schema.settings_json_schema() if args.settings
                else segments.json_schema() if args.segments
                else _live_links(schema.json_schema(INSTALLED.names())))
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(msg("cli.wrote", path=args.out).render(owner_lang()))
    else:
        sys.stdout.write(text)
    return 0


def _live_links(document: dict[str, Any]) -> dict[str, Any]:
    """An editor offers ``link_channel`` only the channels a dialogue can move to (not the
    send-only ones, which ``check`` refuses there)."""
    step = document["$defs"]["Step"]["properties"]["link_channel"]
    for option in step["anyOf"]:
        if "enum" in option:
            option["enum"] = [n for n in option["enum"] if n not in send_only_channels()]
    return document
