"""Third loading stage: validated models -> compiled steps, with meaning checks.

Owns what pydantic cannot see within one flow: keys that conflict, step targets that point
nowhere (listing the steps that exist), choice mappings that name no button, durations,
and template syntax (templates are compiled here, once). Cross-flow references
(``call``, ``remind``) are checked by ``flows.loader`` once every flow is known.

It must not read files and does no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from flows import ladders
from flows import schema as s
from flows.compile_base import where_of
from flows.compile_question import NEW_QUESTION_KEYS, QuestionParts, mapped
from flows.inputs import Option
from flows.model import (
    ByValue,
    CompiledFlow,
    CompiledStep,
    Consent,
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
from flows.problems import did_you_mean, listing
from flows.yamlload import PathKey

T = TypeVar("T")
UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


@dataclass(slots=True)
class Compiler(QuestionParts):
    """Compiles one flow file, collecting problems instead of stopping at the first."""

    def flow(self, model: s.Flow, default_name: str) -> CompiledFlow:
        name = model.flow or default_name
        names = list(model.steps)
        self.step_names = tuple(names)
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
            self.error(
                path,
                f"trigger {index + 1}: write exactly one of command, text, "
                f"button, payload, timer (found: {', '.join(given) or 'none'})",
            )
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
            remind=tuple(self.reminder(r, at) for r, at in _each(st.remind, (*path, "remind"))),
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
            self.error(
                path,
                f"step '{name}': a step can have only one of ask, http, call "
                f"(found {', '.join(stops)}); split it into two steps",
            )
        if st.next is not None and st.goto is not None:
            self.error((*path, "goto"), f"step '{name}': write either 'next' or 'goto', not both")
        if st.end and (st.next is not None or st.goto is not None):
            self.error(
                (*path, "end"),
                f"step '{name}': 'end: true' with 'next' — the step "
                f"cannot both end the flow and go on; remove one",
            )

    def orphans(self, path: PathKey, st: s.Step) -> None:
        for key in (
            "input",
            "choice",
            "choice_from",
            "min",
            "max",
            "check",
            "retry",
            "max_tries",
            "on_fail",
            "save",
            "profile",
            "consent",
            *NEW_QUESTION_KEYS,
        ):
            if getattr(st, key) is not None:
                self.error(
                    (*path, key),
                    f"{where_of(path)}'{key}' only makes sense with 'ask' "
                    f"(the question to ask); add 'ask: …' or remove '{key}'",
                    key=True,
                )

    def question(self, path: PathKey, st: s.Step, names: Sequence[str]) -> Question:
        kind = self.kind(path, st)
        if (st.min is not None or st.max is not None) and kind != "number":
            self.error(path, f"{where_of(path)}'min'/'max' work only with 'input: number'")
        on_fail = self.target(st.on_fail, (*path, "on_fail"), names)
        self.when_keys(path, st, kind, names)
        consent = None
        if st.consent is not None:
            consent = Consent(
                policy=self.text(st.consent.policy, (*path, "consent", "policy")),
                version=st.consent.version,
                policy_text=st.consent.policy_text,
            )
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
            consent=consent,
        )

    def kind(self, path: PathKey, st: s.Step) -> s.InputKind:
        if st.consent is not None:
            if st.input not in (None, "yesno"):
                self.error(
                    (*path, "input"),
                    f"{where_of(path)}a consent question is yes/no; remove 'input: {st.input}'",
                )
            return "yesno"
        has_choice = st.choice is not None or st.choice_from is not None
        if has_choice and st.input not in (None, "choice"):
            self.error(
                (*path, "input"),
                f"{where_of(path)}'choice' buttons need 'input: "
                f"choice' (found 'input: {st.input}'); remove 'input' or 'choice'",
            )
        if st.input == "choice" and not has_choice:
            self.error(
                (*path, "input"),
                f"{where_of(path)}'input: choice' needs 'choice: […]' (the buttons) "
                "or 'choice_from'",
            )
        return "choice" if has_choice else (st.input or "text")

    def options(self, st: s.Step, path: PathKey) -> tuple[Option, ...]:
        raw = st.choice
        if raw is None:
            return ()
        if isinstance(raw, dict):
            found = [mapped(k, v) for k, v in raw.items()]
        else:
            found = [
                Option(id=i, text=i) if isinstance(i, str) else mapped(i.id, [i.text, *i.also])
                for i in raw
            ]
        ids = [o.id for o in found]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            self.error((*path, "choice"), f"{where_of(path)}the button '{dup}' is listed twice")
        return tuple(found)

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
            self.error(
                where,
                f"{where_of(where)}a condition is written "
                f"{{if: …, then: step, else: step}} (found keys: {', '.join(raw)})",
            )
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
                self.error(
                    here,
                    f"{where_of(where)}each rule is {{if: condition, then: step}} "
                    "or {else: step}",
                )
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
                self.error(
                    (*where, answer),
                    f"{where_of(where)}'{answer}' is not one of the "
                    f"answers{did_you_mean(answer, allowed)}; answers are: "
                    f"{listing(allowed, 30)} (or 'else')",
                    key=True,
                )
            else:
                cases[answer] = target
        if q is None:
            self.error(
                where,
                f"{where_of(where)}'next' by answer needs a question in this step "
                f"(ask: …); use {{if: …, then: …}} rules to branch on variables",
            )
        return ByValue(source=None, cases=cases, default=default)

    # ----------------------------------------------------------------- effects

    def reminder(self, r: s.Remind, path: PathKey) -> Reminder:
        if (r.at is None) == (r.after is None):
            self.error(
                path,
                f"{where_of(path)}a reminder needs either 'at' (date and time, with "
                f"optional 'before') or 'after' (e.g. 2h from now)",
            )
        if r.before and not r.at:
            self.error(path, f"{where_of(path)}'before' counts back from 'at'; add 'at'")
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
            if_past=r.if_past if r.if_past in self.step_names else None,
            past_text=self.past_text(r, path),
        )

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
    """'24h' -> 24 hours (the schema guarantees the form)."""
    value = text.strip()
    return int(value[:-1].strip()) * UNITS[value[-1]]


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
