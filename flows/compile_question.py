"""The flow compiler's parts for the keys of issue 16, beside ``flows.compiler.Compiler``.

Owns how these keys are compiled and checked: the two failure texts of a question
(``unreadable`` for an answer that cannot be read, ``retry`` for one that was refused — both
may read ``answer``, the raw text), working days (``days: working``, ``closed``), the day of
a list of times (``for_day``) and where an empty list leads (``when_empty``), buttons with
synonyms and buttons shown only when a condition holds, and a reminder's ``if_past`` (a step,
else a text) with the warning about a reminder counted back (``before``) without it. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from flows import schema as s
from flows.compile_base import CompilerBase, where_of
from flows.inputs import Option
from flows.model import Expr, Text
from flows.problems import Problem
from flows.yamlload import PathKey

# Question keys added by issue 16 (the compiler's "only makes sense with 'ask'" list).
NEW_QUESTION_KEYS = ("unreadable", "days", "closed", "for_day", "when_empty")
# Names the failure texts may read besides the dialogue's: the raw answer.
ANSWER_NAMES = frozenset({"answer"})
_WHEN_KINDS = ("date", "time", "datetime")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # a step's name, not a text


@dataclass(slots=True)
class QuestionParts(CompilerBase):
    """What ``flows.compiler.Compiler`` compiles of the keys above."""

    step_names: tuple[str, ...] = ()  # the steps of the flow being compiled

    def answer_text(self, source: str | None, path: PathKey) -> Text | None:
        """A failure text: a template that may also read ``answer`` (the raw text)."""
        if source is None:
            return None
        before = len(self.uses)
        compiled = self.text(source, path)
        if len(self.uses) > before:
            where, used = self.uses[-1]
            self.uses[-1] = (where, used - ANSWER_NAMES)
        return compiled

    def shown_if(self, st: s.Step, path: PathKey) -> tuple[tuple[str, Expr], ...]:
        """Buttons offered only when their ``if`` holds."""
        if not isinstance(st.choice, list):
            return ()
        return tuple(
            (item.id, self.expr(item.if_, (*path, "choice", i, "if")))
            for i, item in enumerate(st.choice)
            if isinstance(item, s.ChoiceItem) and item.if_ is not None
        )

    def when_keys(self, path: PathKey, st: s.Step, kind: s.InputKind, names: Sequence[str]) -> None:
        """``days``/``closed``, ``for_day`` and ``when_empty`` fit only some inputs."""
        if st.days is not None and kind not in _WHEN_KINDS:
            self.error((*path, "days"), f"{where_of(path)}'days' работает только с "
                       f"'input: date', 'time' или 'datetime' (здесь '{kind}')", key=True)
        if st.closed is not None and st.days != "working":
            self.error((*path, "closed"), f"{where_of(path)}'closed' — текст для нерабочего "
                       f"дня; он нужен только вместе с 'days: working'", key=True)
        if st.for_day is not None and kind not in ("choice", "time"):
            self.error((*path, "for_day"), f"{where_of(path)}'for_day' работает только с "
                       f"кнопками времени или 'input: time' (здесь '{kind}')", key=True)
        if st.when_empty is not None and kind != "choice":
            self.error((*path, "when_empty"), f"{where_of(path)}'when_empty' работает "
                       f"только с кнопками (choice, choice_from)", key=True)
        self.target(st.when_empty, (*path, "when_empty"), names)
        if kind == "choice" and st.for_day is not None and not (st.when_empty or st.on_fail):
            self.warning((*path, "for_day"),
                         f"{where_of(path)}все времена могут оказаться прошедшими или "
                         f"нерабочими; добавьте 'when_empty: шаг', куда вести клиента, когда "
                         f"выбрать не из чего")

    def past_text(self, r: s.Remind, path: PathKey) -> Text | None:
        """``if_past``: a step of this flow, else a text to say; a reminder counted back
        from a visit (``before``) without it is a warning: it may silently not come."""
        if r.if_past is None:
            if r.before:
                self.warning((*path, "before"),
                             f"{where_of(path)}если до '{r.at}' останется меньше {r.before}, "
                             f"это напоминание не будет отправлено; добавьте 'if_past:' — шаг, "
                             f"куда перейти, или текст для клиента, — чтобы бот не обещал "
                             f"того, чего не сделает")
            return None
        if r.if_past in self.step_names:
            return None
        if _NAME_RE.fullmatch(r.if_past):
            self.target_error((*path, "if_past"), r.if_past, self.step_names)
            return None
        return self.text(r.if_past, (*path, "if_past"))

    def warning(self, path: PathKey, message: str) -> None:
        where = self.doc.key_at(path)
        self.problems.append(Problem(self.file, where.line, where.column, message, "warning"))


def mapped(ident: str, raw: str | list[str]) -> Option:
    """A button from ``id: text`` or ``id: [text, synonym, …]``."""
    if isinstance(raw, str):
        return Option(id=ident, text=raw)
    return Option(id=ident, text=raw[0], also=tuple(raw[1:]))
