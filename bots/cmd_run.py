"""``svyaz run`` (the whole bot) and ``svyaz reminders`` (what is scheduled).

This module owns the command-line face of the runtime: reading settings (one line per problem
on a bad configuration), logging set-up, starting the aiohttp app with graceful shutdown on
SIGTERM/SIGINT (``web.run_app``), and listing reminders. It must not wire parts together;
``bots.app`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from bots import reminder_list
from bots.config import ConfigError, Settings, load_settings
from bots.httpguard import raise_open_files, server_options
from flows.errors import SvyazError
from flows.messages import msg

log = logging.getLogger("svyaz.bots")

SHUTDOWN_TIMEOUT = 15.0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's sub-commands to the parser."""
    from bots.cmd_flows import owner_lang

    def say(key: str) -> str:
        return msg(key).render(owner_lang())

    run = sub.add_parser("run", help=say("cli.run"), description=say("cli.run.about"))
    run.add_argument("--host", help=say("cli.run.host"))
    run.add_argument("--port", type=int, help=say("cli.run.port"))
    run.add_argument("--flows", type=Path, help=say("cli.run.flows"))
    run.add_argument("-v", "--verbose", action="store_true", help=say("cli.run.verbose"))
    run.set_defaults(handler=run_command)
    says = say("cli.reminders")
    reminders = sub.add_parser("reminders", help=says, description=says)
    reminders.set_defaults(handler=reminders_command)


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("aiohttp.access", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings(args: argparse.Namespace) -> Settings | None:
    overrides = {
        name: value for name in ("host", "port", "flows")
        if (value := getattr(args, name, None)) is not None
    }
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        print("svyaz: cannot start:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def run_command(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    settings = _settings(args)
    if settings is None:
        return 2
    from bots.app import build_app
    from bots.cmd_flows import owner_lang, send_only_channels
    from connectors.registry import INSTALLED
    from flows.loader import FlowLoadError, check

    flows, found = check(settings.flows, timezone=settings.timezone, channels=INSTALLED.names(),
                         send_only=send_only_channels(), lang=owner_lang())
    if flows is None:  # refuse before anything starts
        print(f"svyaz: flows in {settings.flows} have errors:", file=sys.stderr)
        for problem in found:
            print(f"  {problem}", file=sys.stderr)
        return 1
    app = build_app(settings)
    before, after = raise_open_files()
    if after != before:
        log.info("open-file limit raised from %d to %d", before, after)
    banner = f"svyaz: web chat on http://{settings.host}:{settings.port}/chat (Ctrl+C to stop)"
    try:  # run_app calls ``print`` once start-up passed (the data folder is ours) and it listens
        web.run_app(app, host=settings.host, port=settings.port,
                    print=lambda _: print(banner, flush=True),
                    shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None,
                    loop=new_loop(settings.event_loop),
                    **server_options(settings.http_idle_timeout))
    except FlowLoadError as exc:
        print(f"svyaz: flows in {settings.flows} have errors:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except (SvyazError, OSError) as exc:
        print(f"svyaz: {exc}", file=sys.stderr)
        return 1
    print("svyaz: stopped", flush=True)
    return 0


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    """uvloop when asked for and installed (its transports and event loop are C: the
    webhook in, the reply out and every Redis round trip cost less), else asyncio's own."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:  # (not built for this platform: Windows)
            log.info("uvloop is not installed; running on asyncio's event loop")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def reminders_command(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2
    print(reminder_list.source_line(settings))
    try:
        lines = asyncio.run(_list_reminders(settings))
    except SvyazError as exc:
        print(f"svyaz: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


async def _list_reminders(settings: Settings) -> list[str]:
    return reminder_list.lines(await reminder_list.gather(settings), settings.zone)
