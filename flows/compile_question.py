"""The flow compiler's questions: an ``ask`` step's input, buttons, checks and texts.

Owns how a step's question keys become a ``Question``: the input kind and its conflicts,
buttons (with the synonyms an owner lists, and an ``if`` to show one only when it holds),
the two failure texts (``unreadable`` for an answer that cannot be read, ``retry`` for one
``check`` refused), working days (``days: working``, ``closed``), the day of a list of
times (``for_day``) and where an empty list leads (``when_empty``); keys that only make
sense with ``ask`` are reported when alone. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flows import schema as s
from flows.compile_base import CompilerBase, where_of
from flows.inputs import Option
from flows.messages import msg
from flows.model import Consent, Expr, Question, Text
from flows.problems import Problem
from flows.yamlload import PathKey

QUESTION_KEYS = (
    "input", "choice", "choice_from", "min", "max", "check", "retry", "unreadable",
    "max_tries", "on_fail", "save", "profile", "consent", "days", "closed", "for_day",
    "when_empty",
)  # fmt: skip
# Names the failure texts may read besides the dialogue's: the raw answer.
ANSWER_NAMES = frozenset({"answer"})
ANSWER_TEXTS = frozenset({"retry", "unreadable", "closed"})  # the keys that may read them
_WHEN_KINDS = ("date", "time", "datetime")


@dataclass(slots=True)
class QuestionCompiler(CompilerBase):
    """The question half of ``flows.compiler.Compiler``."""

    def orphans(self, path: PathKey, st: s.Step) -> None:
        for key in QUESTION_KEYS:
            if getattr(st, key) is not None:
                self.error((*path, key), msg("step.needs_ask", where=where_of(path), key=key),
                           key=True)

    def question(self, path: PathKey, st: s.Step, names: Sequence[str]) -> Question:
        kind = self.kind(path, st)
        if (st.min is not None or st.max is not None) and kind != "number":
            self.error(path, msg("step.min_max", where=where_of(path)))
        on_fail = self.target(st.on_fail, (*path, "on_fail"), names)
        self.when_keys(path, st, kind, names)
        return Question(
            prompt=self.text(st.ask or "", (*path, "ask")),
            kind=kind,
            options=self.options(st, path),
            shown_if=self.shown_if(st, path),
            options_from=self.expr(st.choice_from, (*path, "choice_from"))
            if st.choice_from
            else None,
            minimum=st.min,
            maximum=st.max,
            check=self.expr(st.check, (*path, "check")) if st.check else None,
            retry=self.answer_text(st.retry, (*path, "retry")),
            unreadable=self.answer_text(st.unreadable, (*path, "unreadable")),
            days=st.days or "any",
            closed=self.answer_text(st.closed, (*path, "closed")),
            for_day=self.expr(st.for_day, (*path, "for_day")) if st.for_day else None,
            when_empty=st.when_empty,
            max_tries=st.max_tries or (3 if on_fail else None),
            on_fail=on_fail,
            save=st.save,
            profile=st.profile,
            consent=self.consent(st, path),
        )

    def consent(self, st: s.Step, path: PathKey) -> Consent | None:
        if st.consent is None:
            return None
        return Consent(
            policy=self.text(st.consent.policy, (*path, "consent", "policy")),
            version=st.consent.version,
            policy_text=st.consent.policy_text,
            purpose=st.consent.purpose,
        )

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

    def when_keys(self, path: PathKey, st: s.Step, kind: s.InputKind, names: Sequence[str]) -> None:
        """``days``/``closed``, ``for_day`` and ``when_empty`` fit only some inputs."""
        if st.days is not None and kind not in _WHEN_KINDS:
            self.error((*path, "days"), msg("hours.days_input", where=where_of(path), kind=kind),
                       key=True)
        if st.closed is not None and st.days != "working":
            self.error((*path, "closed"), msg("hours.closed_needs_days", where=where_of(path)),
                       key=True)
        if st.for_day is not None and kind not in ("choice", "time"):
            self.error((*path, "for_day"), msg("hours.for_day_input", where=where_of(path),
                                               kind=kind), key=True)
        if st.when_empty is not None and kind != "choice":
            self.error((*path, "when_empty"), msg("hours.when_empty_input", where=where_of(path)),
                       key=True)
        self.target(st.when_empty, (*path, "when_empty"), names)
        if kind == "choice" and st.for_day is not None and not (st.when_empty or st.on_fail):
            where = self.doc.key_at((*path, "for_day"))
            self.problems.append(Problem(
                self.file, where.line, where.column,
                msg("hours.may_be_empty", where=where_of(path)),
                "warning",
            ))

    def shown_if(self, st: s.Step, path: PathKey) -> tuple[tuple[str, Expr], ...]:
        """Buttons offered only when their ``if`` holds."""
        if not isinstance(st.choice, list):
            return ()
        return tuple(
            (item.id, self.expr(item.if_, (*path, "choice", i, "if")))
            for i, item in enumerate(st.choice)
            if isinstance(item, s.ChoiceItem) and item.if_ is not None
        )

    def kind(self, path: PathKey, st: s.Step) -> s.InputKind:
        if st.consent is not None:
            if st.input not in (None, "yesno"):
                self.error((*path, "input"), msg("step.consent_input", where=where_of(path),
                                                 input=st.input))
            return "yesno"
        has_choice = st.choice is not None or st.choice_from is not None
        if has_choice and st.input not in (None, "choice"):
            self.error((*path, "input"), msg("step.choice_input", where=where_of(path),
                                             input=st.input))
        if st.input == "choice" and not has_choice:
            self.error((*path, "input"), msg("step.choice_needs_buttons", where=where_of(path)))
        return "choice" if has_choice else (st.input or "text")

    def options(self, st: s.Step, path: PathKey) -> tuple[Option, ...]:
        raw = st.choice
        if raw is None:
            return ()
        if isinstance(raw, dict):
            found = [_mapped(k, v) for k, v in raw.items()]
        else:
            found = [
                Option(id=i, text=i)
                if isinstance(i, str)
                else Option(id=i.id, text=i.text, also=tuple(i.also))
                for i in raw
            ]
        ids = [o.id for o in found]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            self.error((*path, "choice"), msg("step.button_twice", where=where_of(path),
                                              button=dup))
        return tuple(found)


def _mapped(ident: str, raw: str | list[str]) -> Option:
    """``id: text`` or ``id: [text, synonym, …]``."""
    if isinstance(raw, str):
        return Option(id=ident, text=raw)
    return Option(id=ident, text=raw[0], also=tuple(raw[1:]))
