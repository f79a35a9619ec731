"""Checks of how flows use what ``_bot.yaml`` declares (working days and hours).

Owns the problems that need a flow and the bot's settings together, for
``flows.loader.check``: a step asking for working days (``days: working``) when
``_bot.yaml`` declares none. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flows import schema as s
from flows.messages import msg
from flows.model import CompiledFlow
from flows.problems import Problem
from flows.yamlload import Document


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
