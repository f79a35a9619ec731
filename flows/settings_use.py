"""Checks of how flows use what ``_bot.yaml`` declares (working days and hours), and of its
invitation texts.

Owns the problems that need a flow and the bot's settings together, for
``flows.loader.check``: a step asking for working days (``days: working``) when
``_bot.yaml`` declares none; and the invitation texts (``texts.invite_*``, sent by ``svyaz
invite send``) that would fail when sent — a broken template or a name nothing gives it (a
warning: the bot runs without them). Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flows import schema as s
from flows.messages import msg
from flows.model import CompiledFlow
from flows.problems import Problem, did_you_mean, listing
from flows.templates import TemplateProblem, compile_text
from flows.yamlload import Document

# What an invitation's text may name besides the ``vars:`` (``bots.invite_send`` gives them).
INVITE_VARIABLES = ("name", "links", "vk", "max", "web")
INVITE_TEXTS = ("invite_sms", "invite_email", "invite_subject")


def check(
    flows: Iterable[tuple[CompiledFlow, Document]], settings: s.Settings
) -> Iterator[Problem]:
    if settings.working is not None:
        return
    for flow, doc in flows:
        for step in flow.steps.values():
            if step.question is not None and step.question.days == "working":
                where = doc.value_at(("steps", step.name, "days"))
                yield Problem(
                    flow.file, where.line, where.column,
                    msg("hours.not_declared", step=step.name, file=s.SETTINGS_FILE),
                    "warning",
                )


def invite_texts(settings: s.Settings, file: str, doc: Document | None) -> Iterator[Problem]:
    known = sorted({*INVITE_VARIABLES, *settings.constants()})
    for key in INVITE_TEXTS:
        where = doc.value_at(("texts", key)) if doc is not None else None
        line, column = (where.line, where.column) if where is not None else (1, 1)
        try:
            names = compile_text(getattr(settings.texts, key)).names
        except TemplateProblem as exc:
            yield Problem(file, line, column, msg("texts.invite_syntax", key=key,
                                                  why=exc.message), "warning")
            continue
        for name in sorted(names - set(known)):
            yield Problem(file, line, column, msg(
                "texts.invite_unknown", key=key, name=name, hint=did_you_mean(name, known),
                names=listing(known)), "warning")
