"""The ``svyaz`` command: one entry point, sub-commands registered by their own modules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bots import cmd_flows, cmd_run, cmd_storage, sms_status
from bots.desk import cmd_operator

COMMAND_MODULES = (cmd_run, cmd_flows, cmd_storage, sms_status, cmd_operator)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="svyaz",
        description="svyaz: one customer dialogue across VK, MAX and a web chat.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    code: int = handler(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
