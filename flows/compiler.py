"""Third loading stage: validated models -> compiled steps, with meaning checks.

Owns what pydantic cannot see within one flow: keys that conflict, step targets that point
nowhere (listing the steps that exist), choice mappings that name no button, durations,
and template syntax (templates are compiled here, once). Cross-flow references
(``call``, ``remind``) are checked by ``flows.loader`` once every flow is known.

It must not read files and does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from flows import durations, ladders
from flows import schema as s
from flows.compile_base import where_of
from flows.compile_question import QuestionCompiler
from flows.messages import msg
from flows.model import (
    ByValue,
    CompiledFlow,
    CompiledStep,
    ConstText,
    Expr,
    Goto,
    HttpCall,
    Next,
    Question,
    Reminder,
    Rules,
    Text,
    Trigger,
)
from flows.problems import Problem, did_you_mean, listing
from flows.yamlload import PathKey

T = TypeVar("T")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # a step's name, not a text


@dataclass(slots=True)
class Compiler(QuestionCompiler):
    """Compiles one flow file, collecting problems instead of stopping at the first."""

    def flow(self, model: s.Flow, default_name: str) -> CompiledFlow:
        name = model.flow or default_name
        names = list(model.steps)
        start = model.start or names[0]
        if start not in model.steps:
            self.target_error(("start",), start, names)
        steps = {n: self.step(n, st, names) for n, st in model.steps.items()}
        triggers = tuple(self.trigger(i, t, names) for i, t in enumerate(model.triggers))
        return CompiledFlow(
            name=name,
            title=model.title or name,
            file=self.file,
            start=start if start in steps else names[0],
            steps=steps,
            triggers=triggers,
            defaults=dict(model.vars),
        )

    def trigger(self, index: int, t: s.Trigger, names: Sequence[str]) -> Trigger:
        path: PathKey = ("triggers", index)
        given = [
            k
            for k in ("command", "text", "button", "payload", "timer")
            if getattr(t, k) is not None
        ]
        if len(given) != 1:
            self.error(path, msg("trigger.one_kind", number=index + 1,
                                 found=", ".join(given) or "-"))
        kind = given[0] if given else "command"
        raw = getattr(t, kind)
        values = tuple(raw) if isinstance(raw, list) else (str(raw),)
        self.target(t.step, (*path, "step"), names)
        return Trigger(kind=kind, values=values, step=t.step)  # type: ignore[arg-type]

    # ----------------------------------------------------------------- steps

    def step(self, name: str, st: s.Step, names: Sequence[str]) -> CompiledStep:
        path: PathKey = ("steps", name)
        self.conflicts(name, st)
        question = self.question(path, st, names) if st.ask is not None else None
        if st.ask is None:
            self.orphans(path, st)
        return CompiledStep(
            name=name, line=self.doc.key_at(path).line,
            set=tuple((k, self.value(v, (*path, "set", k))) for k, v in (st.set or {}).items()),
            cancel=tuple(
                self.text(k, (*path, "cancel_reminder")) for k in _many(st.cancel_reminder)
            ),
            remind=tuple(
                self.reminder(r, at, names) for r, at in _each(st.remind, (*path, "remind"))
            ),
            tags=tuple(dict.fromkeys(_many(st.tag))),
            handoff=self.handoff(st.handoff, (*path, "handoff")),
            link_channel=self.channel(st.link_channel, (*path, "link_channel")),
            say=self.text(st.say, (*path, "say")) if st.say is not None else None,
            image=self.text(st.image, (*path, "image")) if st.image else None,
            links=tuple(
                (self.text(lk.text, (*path, "links", i)), self.text(lk.url, (*path, "links", i)))
                for i, lk in enumerate(st.links or ())
            ),
            markdown=st.markdown,
            http=self.http(st.http, (*path, "http"), names) if st.http else None,
            call=st.call,
            question=question,
            end=st.end,
            next=self.next(st, question, path, names),
        )

    def conflicts(self, name: str, st: s.Step) -> None:
        path: PathKey = ("steps", name)
        stops = [k for k in ("ask", "http", "call") if getattr(st, k) is not None]
        if len(stops) > 1:
            self.error(path, msg("step.one_stop", step=name, found=", ".join(stops)))
        if st.next is not None and st.goto is not None:
            self.error((*path, "goto"), msg("step.next_and_goto", step=name))
        if st.end and (st.next is not None or st.goto is not None):
            self.error((*path, "end"), msg("step.end_and_next", step=name))

    def next(
        self, st: s.Step, q: Question | None, path: PathKey, names: Sequence[str]
    ) -> Next | None:
        raw = st.goto if st.goto is not None else st.next
        key = "goto" if st.goto is not None else "next"
        where: PathKey = (*path, key)
        if raw is None:
            return None
        if isinstance(raw, str):
            self.target(raw, where, names)
            return Goto(raw)
        if isinstance(raw, list):
            return self.rules([(r.if_, r.then, r.else_) for r in raw], where, names)
        if "if" in raw:
            return self.single_rule(raw, where, names)
        return self.by_value(raw, q, where, names)

    def single_rule(self, raw: dict[str, str], where: PathKey, names: Sequence[str]) -> Next | None:
        extra = set(raw) - {"if", "then", "else"}
        if extra or "then" not in raw:
            self.error(where, msg("next.condition_form", where=where_of(where),
                                  found=", ".join(raw)))
        rules: list[tuple[str | None, str | None, str | None]] = [
            (raw["if"], raw.get("then"), None)
        ]
        if "else" in raw:
            rules.append((None, None, raw["else"]))
        return self.rules(rules, where, names)

    def rules(
        self,
        raw: list[tuple[str | None, str | None, str | None]],
        where: PathKey,
        names: Sequence[str],
    ) -> Rules:
        compiled: list[tuple[Expr | None, str]] = []
        for i, (cond, then, other) in enumerate(raw):
            here = (*where, i)
            if cond is not None and then is not None and other is None:
                self.target(then, (*here, "then"), names)
                compiled.append((self.expr(cond, (*here, "if")), then))
            elif other is not None and cond is None and then is None:
                self.target(other, (*here, "else"), names)
                compiled.append((None, other))
            else:
                self.error(here, msg("next.rule_form", where=where_of(where)))
        return Rules(tuple(compiled))

    def by_value(
        self, raw: dict[str, str], q: Question | None, where: PathKey, names: Sequence[str]
    ) -> ByValue:
        allowed = _answers(q)
        cases: dict[str, str] = {}
        default = None
        for answer, target in raw.items():
            self.target(target, (*where, answer), names)
            if answer in ("else", "other"):
                default = target
            elif allowed is not None and answer not in allowed:
                self.error((*where, answer), msg(
                    "next.not_an_answer", where=where_of(where), answer=answer,
                    hint=did_you_mean(answer, allowed), answers=listing(allowed, 30)), key=True)
            else:
                cases[answer] = target
        if q is None:
            self.error(where, msg("next.by_answer_needs_ask", where=where_of(where)))
        return ByValue(source=None, cases=cases, default=default)

    # ----------------------------------------------------------------- effects

    def reminder(self, r: s.Remind, path: PathKey, names: Sequence[str]) -> Reminder:
        if (r.at is None) == (r.after is None):
            self.error(path, msg("remind.at_or_after", where=where_of(path)))
        if r.before and not r.at:
            self.error(path, msg("remind.before_needs_at", where=where_of(path)))
        within = duration(r.within) if r.within else None
        return Reminder(
            flow=r.flow,
            key=self.text(r.key or r.flow, (*path, "key")),
            at=self.text(r.at, (*path, "at")) if r.at else None,
            before=duration(r.before) if r.before else timedelta(0),
            after=duration(r.after) if r.after else None,
            vars=self.value(r.vars, (*path, "vars")) if r.vars is not None else None,
            critical=r.critical,
            ladder=ladders.check(self, r, path, within),
            if_past=r.if_past if r.if_past in names else None,
            past_text=self.past_text(r, path, names),
        )

    def past_text(self, r: s.Remind, path: PathKey, names: Sequence[str]) -> Text | None:
        """``if_past``: a step of this flow, else a text to say; a reminder counted back
        from a visit (``before``) without it is a warning: it may silently not come."""
        if r.if_past is None:
            if r.before:
                where = self.doc.key_at((*path, "before"))
                self.problems.append(Problem(
                    self.file, where.line, where.column,
                    msg("remind.may_pass", where=where_of(path), at=r.at, before=r.before),
                    "warning",
                ))
            return None
        if r.if_past in names:
            return None
        if _NAME_RE.fullmatch(r.if_past):
            self.target_error((*path, "if_past"), r.if_past, names)
            return None
        return self.text(r.if_past, (*path, "if_past"))

    def http(self, h: s.Http, path: PathKey, names: Sequence[str]) -> HttpCall:
        return HttpCall(
            method=h.method,
            url=self.text(h.url, (*path, "url")),
            body=self.value(h.json_body, (*path, "json")),
            headers=tuple((k, self.text(v, (*path, "headers", k))) for k, v in h.headers.items()),
            save=h.save,
            on_error=self.target(h.on_error, (*path, "on_error"), names),
            timeout=h.timeout,
        )

    def handoff(self, raw: str | bool | None, path: PathKey) -> Text | None:
        if raw is None or raw is False:
            return None
        return ConstText("") if raw is True else self.text(raw, path)


def duration(text: str) -> timedelta:
    """'24h', '24 часа' -> 24 hours (the schema guarantees the form)."""
    return durations.parse(text) or timedelta(0)


def _answers(q: Question | None) -> list[str] | None:
    if q is None:
        return None
    if q.kind == "yesno":
        return ["yes", "no"]
    if q.kind == "choice" and q.options_from is None:
        return [o.id for o in q.options]
    return None


def _many(raw: T | list[T] | None) -> list[T]:
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list) else [raw]


def _each(raw: T | list[T] | None, path: PathKey) -> list[tuple[T, PathKey]]:
    """Like ``_many``, with the path of each item (problems point at the item of a list)."""
    if isinstance(raw, list):
        return [(item, (*path, i)) for i, item in enumerate(raw)]
    return [(item, path) for item in _many(raw)]
