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
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bots.desk.canned import load_canned
from bots.flowchat import ChatSession, run_chat
from connectors.registry import INSTALLED
from flows import convtest, graph, schema
from flows.loader import check, load
from flows.model import ByValue, CompiledFlow, CompiledStep, FlowSet, Goto, Rules
from flows.problems import FlowLoadError, Problem
from flows.types import Event, StartEvent, StartFlowEvent

NO_TESTS = 5  # like pytest: nothing was tested


def _default_folder() -> str:
    return os.environ.get("SVYAZ_FLOWS", "flows_examples")


def _timezone() -> str:
    return os.environ.get("SVYAZ_TIMEZONE", "Europe/Moscow")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's sub-commands to the parser."""
    folder_help = "folder of flow *.yaml files (default: $SVYAZ_FLOWS or flows_examples)"

    p = sub.add_parser("check", help="validate a folder of flows (exit 1 on errors)")
    p.add_argument("folder", nargs="?", default=None, help=folder_help)
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("chat", help="talk to the flows in the terminal as a customer")
    p.add_argument("folder", nargs="?", default=None, help=folder_help)
    p.add_argument("--flow", help="start this flow instead of the platform's start")
    p.add_argument("--now", help="start the fake clock here, e.g. '2026-12-23 10:00'")
    p.add_argument("--http-fail", action="store_true", help="answer HTTP calls with a failure")
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser("test", help="run the conversation tests (*.test.yaml) of a folder")
    p.add_argument("folder", nargs="?", default=None, help=folder_help)
    p.set_defaults(handler=cmd_test)

    p = sub.add_parser("graph", help="a picture of a flow (Mermaid; SVG/PNG with Graphviz)")
    p.add_argument("flow", help="name of the flow")
    p.add_argument("--folder", default=None, help=folder_help)
    p.add_argument("--out", help="write here; .svg/.png need Graphviz 'dot', .dot gives DOT")
    p.set_defaults(handler=cmd_graph)

    p = sub.add_parser("schema", help="write the JSON Schema of flow files (for editors)")
    p.add_argument("--out", help="file to write (default: standard output)")
    p.add_argument("--settings", action="store_true", help="the schema of _bot.yaml instead")
    p.set_defaults(handler=cmd_schema)


# --------------------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    folder = args.folder or _default_folder()
    flows, problems = check(folder, timezone=_timezone(), channels=INSTALLED.names())
    problems = (*problems, *load_canned(Path(folder))[1])  # the desk's _desk.yaml
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if flows is None or errors:
        print(f"{folder}: {errors} error(s), {warnings} warning(s)")
        return 1
    print(f"{folder}: ok, {len(flows.flows)} flow(s), {warnings} warning(s)")
    return 0


def _load_or_report(folder: str) -> FlowSet | None:
    """The folder's ``FlowSet``, or None after printing its problems to stderr."""
    try:
        return load(folder, timezone=_timezone(), channels=INSTALLED.names())
    except FlowLoadError as exc:
        _print_problems(exc.problems)
        return None


def _print_problems(problems: tuple[Problem, ...]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    errors = sum(p.severity == "error" for p in problems)
    print(f"{errors} error(s) in flows; run 'svyaz check' for details", file=sys.stderr)


# --------------------------------------------------------------------------- chat


def cmd_chat(args: argparse.Namespace) -> int:
    folder = args.folder or _default_folder()
    flows = _load_or_report(folder)
    if flows is None:
        return 1
    try:
        now = _start_time(args.now, flows.timezone)
    except ValueError:
        print(f"--now: expected a time like 2026-12-23 10:00, got {args.now!r}", file=sys.stderr)
        return 2
    if args.flow and args.flow not in flows.flows:
        print(f"no flow '{args.flow}'; flows: {', '.join(sorted(flows.flows))}", file=sys.stderr)
        return 2
    session = ChatSession.start(flows, sys.stdout, now=now)
    session.http_ok = not args.http_fail
    print(f"svyaz chat: {folder}, {session.now:%Y-%m-%d %H:%M} {flows.timezone}; /help for help")
    first: Event = StartFlowEvent(flow=args.flow) if args.flow else StartEvent()
    run_chat(session, sys.stdin, prompt=sys.stdin.isatty(), first=first)
    return 0


def _start_time(text: str | None, timezone: str) -> datetime | None:
    """``--now`` as an aware time in the business time zone (None: the real clock)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


# --------------------------------------------------------------------------- test


def cmd_test(args: argparse.Namespace) -> int:

    folder = args.folder or _default_folder()
    flows = _load_or_report(folder)
    if flows is None:
        return 1
    results = convtest.run_folder(folder, flows)
    for result in results:
        mark = "PASS" if result.ok else "FAIL"
        print(f"{mark} {result.file}: {result.name}")
        if not result.ok:
            print("    " + result.diff.rstrip().replace("\n", "\n    "))
    failed = sum(not r.ok for r in results)
    if not results:
        print(f"{folder}: no conversation tests (*.test.yaml)")
        return NO_TESTS
    print(f"{folder}: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


# --------------------------------------------------------------------------- graph


def cmd_graph(args: argparse.Namespace) -> int:
    flows = _load_or_report(args.folder or _default_folder())
    if flows is None:
        return 1
    flow = flows.flows.get(args.flow)
    if flow is None:
        print(f"no flow '{args.flow}'; flows: {', '.join(sorted(flows.flows))}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    if out is None:
        print(mermaid(flow), end="")
        return 0
    if out.suffix in (".svg", ".png"):
        return _graphviz(flow, out)
    out.write_text(dot(flow) if out.suffix == ".dot" else mermaid(flow), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _graphviz(flow: CompiledFlow, out: Path) -> int:
    program = shutil.which("dot")
    if program is None:
        print(
            "Graphviz 'dot' is not installed; use --out FILE.mmd (Mermaid) or install graphviz",
            file=sys.stderr,
        )
        return 1
    done = subprocess.run(
        [program, f"-T{out.suffix[1:]}", "-o", str(out)],
        input=dot(flow).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr.decode(errors="replace"), file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def edges(flow: CompiledFlow, name: str) -> Iterator[tuple[str, str]]:
    """(target, label) for every way step ``name`` can go, labelled for a picture."""
    step = flow.steps[name]
    nxt = step.next
    if isinstance(nxt, Goto):
        yield nxt.target, ""
    elif isinstance(nxt, ByValue):
        yield from ((target, value) for value, target in nxt.cases.items())
        if nxt.default:
            yield nxt.default, "other"
    elif isinstance(nxt, Rules):
        for cond, target in nxt.rules:
            yield target, "else" if cond is None else "if " + getattr(cond, "source", "…")
    if step.question and step.question.on_fail:
        yield step.question.on_fail, "too many tries"
    if step.http and step.http.on_error:
        yield step.http.on_error, "HTTP error"
    after = graph.following(flow, name)
    if after and graph.falls_through(step):
        yield after, ""


def _summary(step: CompiledStep) -> str:
    """A few words on what a step does: its question, message, call or sub-flow."""
    if step.question is not None:
        text = _text_of(step.question.prompt)
        return f"{step.question.kind}: {text}" if step.question.kind != "text" else text
    for what, value in (("say", step.say), ("handoff", step.handoff)):
        if value is not None:
            return f"{what}: {_text_of(value)}" if what != "say" else _text_of(value)
    if step.http is not None:
        return f"HTTP {step.http.method} {_text_of(step.http.url)}"
    if step.call is not None:
        return f"call flow {step.call}"
    return ""


def _text_of(text: object, limit: int = 40) -> str:
    source = getattr(text, "source", None) or getattr(text, "value", None) or ""
    source = " ".join(str(source).split())
    return source if len(source) <= limit else source[: limit - 1] + "…"


def mermaid(flow: CompiledFlow) -> str:
    """Mermaid ``flowchart`` text of a flow's steps and transitions."""
    ids = {name: f"s{i}" for i, name in enumerate(flow.steps)}
    lines = ["flowchart TD", f"  start(({_mm(flow.title or flow.name)})) --> {ids[flow.start]}"]
    for name, step in flow.steps.items():
        label = _mm(name) + (f"<br/>{_mm(_summary(step))}" if _summary(step) else "")
        shape = ("{{", "}}") if step.question else ("[[", "]]") if step.call else ('["', '"]')
        if shape[0] != '["':
            label = f'"{label}"'
        lines.append(f"  {ids[name]}{shape[0]}{label}{shape[1]}")
        for target, edge in edges(flow, name):
            arrow = f" -->|{_mm(edge)}| " if edge else " --> "
            lines.append(f"  {ids[name]}{arrow}{ids.get(target, 'missing')}")
        if step.end:
            lines.append(f"  {ids[name]} --> stop((end))")
    return "\n".join(lines) + "\n"


def _mm(text: str) -> str:
    """Text safe inside a Mermaid label."""
    for bad, good in (('"', "#quot;"), ("|", "#124;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(bad, good)
    return text


def dot(flow: CompiledFlow) -> str:
    """Graphviz DOT text of the same picture (for SVG/PNG)."""
    lines = [f"digraph {json.dumps(flow.name)} {{", '  node [fontname="sans-serif"];']
    lines.append(f'  "__start" [shape=circle, label={json.dumps(flow.title or flow.name)}];')
    lines.append(f'  "__start" -> {json.dumps(flow.start)};')
    for name, step in flow.steps.items():
        shape = "hexagon" if step.question else "box3d" if step.call else "box"
        label = name + (f"\n{_summary(step)}" if _summary(step) else "")
        lines.append(f"  {json.dumps(name)} [shape={shape}, label={json.dumps(label)}];")
        for target, edge in edges(flow, name):
            lines.append(
                f"  {json.dumps(name)} -> {json.dumps(target)} [label={json.dumps(edge)}];"
            )
        if step.end:
            lines.append(f'  {json.dumps(name)} -> "__end";')
    lines.append('  "__end" [shape=doublecircle, label="end"];')
    return "\n".join(lines) + "\n}\n"


# --------------------------------------------------------------------------- schema


def cmd_schema(args: argparse.Namespace) -> int:
    document = (schema.settings_json_schema() if args.settings
                else schema.json_schema(INSTALLED.names()))
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0
