"""The ``svyaz`` command: one entry point, sub-commands registered by their own modules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence

from bots import cmd_broadcast, cmd_flows, cmd_invite, cmd_run, cmd_stats, cmd_storage, sms_status
from bots.desk import cmd_operator
from flows.messages import Lang, msg

COMMAND_MODULES = (cmd_run, cmd_flows, cmd_storage, sms_status, cmd_operator, cmd_stats,
                   cmd_broadcast, cmd_invite)


def build_parser() -> argparse.ArgumentParser:
    lang = cmd_flows.owner_lang()
    parser = argparse.ArgumentParser(prog="svyaz", description=msg("cli.description").render(lang))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                title=msg("cli.commands").render(lang))
    for module in COMMAND_MODULES:
        module.register(sub)
    _localize(parser, lang)
    return parser


def _localize(parser: argparse.ArgumentParser, lang: Lang) -> None:
    """argparse's own words (usage, section titles, -h) in the owner's language, in the
    parser and every sub-command's, at any depth (``svyaz operator add``)."""
    parser.formatter_class = _RussianHelp if lang == "ru" else argparse.HelpFormatter
    parser._positionals.title = msg("cli.positionals").render(lang)
    parser._optionals.title = msg("cli.options").render(lang)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = msg("cli.help").render(lang)
        elif isinstance(action, argparse._SubParsersAction):
            for each in action.choices.values():
                _localize(each, lang)


class _RussianHelp(argparse.HelpFormatter):
    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[argparse._MutuallyExclusiveGroup],
                  prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, prefix or msg("cli.usage").render("ru"))


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
