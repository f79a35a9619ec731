"""``svyaz run`` (the whole bot) and ``svyaz reminders`` (what is scheduled).

This module owns the command-line face of the runtime: reading settings (one line per problem
on a bad configuration), logging set-up, starting the aiohttp app with graceful shutdown on
SIGTERM/SIGINT (``web.run_app``), and listing reminders. It must not wire parts together;
``bots.app`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from bots import reminder_list
from bots.config import ConfigError, Settings, load_settings
from bots.httpguard import raise_open_files, server_options
from flows.errors import SvyazError
from flows.messages import Msg, msg

log = logging.getLogger("svyaz.bots")

SHUTDOWN_TIMEOUT = 15.0
# The collector's young generation is collected every this many net allocations of tracked
# objects once the bot runs (CPython's default: 700). See ``settle_heap``.
GC_YOUNG = 10_000


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's sub-commands to the parser."""
    from bots.cmd_flows import owner_says as say

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
    # The format shows no source line, thread or process, so a record need not look them up
    # (the logging HOWTO's "Optimization" list): the turn's INFO line cost ~1.4 % of the
    # bot's CPU, a quarter of it ``findCaller`` walking the stack (profile: ``Logger._log``).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def _settings(args: argparse.Namespace) -> Settings | None:
    overrides = {
        name: value for name in ("host", "port", "flows")
        if (value := getattr(args, name, None)) is not None
    }
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        refuse(msg("settings.refused"), exc.found)
        return None


def refuse(header: Msg, problems: Iterable[object]) -> None:
    """The owner's refusal on the terminal: a line saying why, then one line per problem,
    in the owner's language (``SVYAZ_LANG``, never the locale)."""
    from bots.cmd_flows import owner_lang

    lang = owner_lang()
    print(header.render(lang), file=sys.stderr)
    for problem in problems:
        said = problem.render(lang) if isinstance(problem, Msg) else problem
        print(f"  {said}", file=sys.stderr)


def run_command(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    settings = _settings(args)
    if settings is None:
        return 2
    from bots.cmd_flows import owner_lang, send_only_channels
    from connectors.registry import INSTALLED
    from flows.loader import FlowLoadError, check

    flows, found = check(settings.flows, timezone=settings.timezone, channels=INSTALLED.names(),
                         send_only=send_only_channels(), lang=owner_lang())
    if flows is None:  # refuse before anything starts
        refuse(msg("settings.flows_refused", folder=settings.flows), found)
        return 1
    try:
        _serve(settings)
    except FlowLoadError as exc:
        refuse(msg("settings.flows_refused", folder=settings.flows), exc.problems)
        return 1
    except ConfigError as exc:  # (the data folder's secret key)
        refuse(msg("settings.refused"), exc.found)
        return 2
    except (SvyazError, OSError) as exc:
        refuse(_failed(exc, settings), ())
        return 1
    print("svyaz: stopped", flush=True)
    return 0


def _serve(settings: Settings) -> None:
    """Build the app and serve until SIGTERM/SIGINT."""
    from bots.app import build_app

    app = build_app(settings)
    app.on_startup.append(settle_heap)  # after the parts' own start-up (cleanup_ctx runs first)
    before, after = raise_open_files()
    if after != before:
        log.info("open-file limit raised from %d to %d", before, after)
    banner = f"svyaz: web chat on http://{settings.host}:{settings.port}/chat (Ctrl+C to stop)"
    # run_app calls ``print`` once start-up passed (the data folder is ours) and it listens
    web.run_app(app, host=settings.host, port=settings.port,
                print=lambda _: print(banner, flush=True),
                shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None,
                loop=new_loop(settings.event_loop), **server_options(settings.http_idle_timeout))


async def settle_heap(_app: web.Application) -> None:
    """Once started: what start-up built (modules, compiled flows and templates, pydantic's
    validators: ~120,000 objects) moves to the collector's permanent generation
    (``gc.freeze``), and the young generation is collected every ``GC_YOUNG`` allocations.

    Why (``gc.callbacks`` on the booking load, 720 messages): the young generation was
    collected ~90 times, 0.27 ms each (~3 % of the bot's CPU), though nearly all of a turn's
    objects are freed by their reference counts; a full collection walked the start-up
    objects, 65 ms about once per 700-1,000 messages. With these: the young one once in 720
    messages, no full one. Cycles are still collected, later: at most ``GC_YOUNG`` more
    objects wait for it."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


def _failed(exc: SvyazError | OSError, settings: Settings) -> Msg:
    """Why the bot stopped while starting: the port already taken, or the error's own sentence
    for the owner (``SvyazError.said``: the data folder in use...), else its own words."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return msg("settings.port_taken", host=settings.host, port=settings.port)
    return msg("settings.failed", detail=exc.said if isinstance(exc, SvyazError) and exc.said
               else exc)


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
        from bots.cmd_flows import owner_lang

        print(f"svyaz: {exc.said.render(owner_lang()) if exc.said else exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


async def _list_reminders(settings: Settings) -> list[str]:
    return reminder_list.lines(await reminder_list.gather(settings), settings.zone)
