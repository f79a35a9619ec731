"""The compiled flow set: what the engine runs, with every template compiled once.

Owns the immutable, engine-ready form of flows (``FlowSet``, ``CompiledFlow``,
``CompiledStep`` and their parts) and the small renderers shared by compiled values.
It must not parse YAML or report problems (``flows.loader``/``flows.compiler`` do) and
does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, Protocol

from flows.hours import WorkingHours
from flows.inputs import Option
from flows.problems import Problem
from flows.schema import CommandName, InputKind, ProfileField, Texts
from flows.types import JSON, Channel, ConsentPurpose, Ladder


class Text(Protocol):
    def render(self, context: Mapping[str, JSON]) -> str: ...


class Expr(Protocol):
    def evaluate(self, context: Mapping[str, JSON]) -> JSON: ...


@dataclass(frozen=True, slots=True)
class ConstText:
    """A text without template syntax: rendering is free."""

    value: str

    def render(self, context: Mapping[str, JSON]) -> str:
        return self.value


_MISSING: object = object()
_DICT_ATTRS = frozenset(dir(dict))


def lookup(context: Mapping[str, JSON], path: tuple[str, ...]) -> object:
    """``a.b.c`` in a JSON context, or ``_MISSING``."""
    node: object = context
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def is_plain_path(path: tuple[str, ...]) -> bool:
    """A dotted name whose lookup means the same by dict items as by Jinja's attributes."""
    return not any(part in _DICT_ATTRS for part in path)


@dataclass(frozen=True, slots=True)
class NameValue:
    """An expression that is just a (dotted) variable name: read without starting Jinja.

    Anything unusual (a missing name) goes to the compiled expression, which raises the
    same errors Jinja would.
    """

    path: tuple[str, ...]
    slow: Expr

    @property
    def source(self) -> str:
        return ".".join(self.path)

    def evaluate(self, context: Mapping[str, JSON]) -> JSON:
        value = lookup(context, self.path)
        if value is _MISSING:
            return self.slow.evaluate(context)
        return value  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class FastText:
    """Literal text with ``{{ name }}`` holes; renders without Jinja when every value is a
    string or a number (what Jinja would print unchanged), else defers to the template."""

    parts: tuple[str | tuple[str, ...], ...]
    slow: Text

    @property
    def source(self) -> str:
        return "".join(p if isinstance(p, str) else "{{ " + ".".join(p) + " }}" for p in self.parts)

    def render(self, context: Mapping[str, JSON]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = lookup(context, part)
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                out.append(str(value))
            else:
                return self.slow.render(context)
        return "".join(out)


@dataclass(frozen=True, slots=True)
class ConstValue:
    value: JSON

    def evaluate(self, context: Mapping[str, JSON]) -> JSON:
        return self.value


@dataclass(frozen=True, slots=True)
class TextValue:
    """A JSON value given as a text template (renders to a string)."""

    text: Text

    def evaluate(self, context: Mapping[str, JSON]) -> JSON:
        return self.text.render(context)


@dataclass(frozen=True, slots=True)
class ListValue:
    items: tuple[Expr, ...]

    def evaluate(self, context: Mapping[str, JSON]) -> JSON:
        return [item.evaluate(context) for item in self.items]


@dataclass(frozen=True, slots=True)
class DictValue:
    items: tuple[tuple[str, Expr], ...]

    def evaluate(self, context: Mapping[str, JSON]) -> JSON:
        return {key: value.evaluate(context) for key, value in self.items}


@dataclass(frozen=True, slots=True)
class Consent:
    policy: Text
    version: str
    policy_text: str
    purpose: ConsentPurpose = "personal_data"


@dataclass(frozen=True, slots=True)
class Question:
    prompt: Text
    kind: InputKind
    options: tuple[Option, ...] = ()
    shown_if: tuple[tuple[str, Expr], ...] = ()  # option id -> when it is offered
    options_from: Expr | None = None
    minimum: float | None = None
    maximum: float | None = None
    check: Expr | None = None
    retry: Text | None = None
    unreadable: Text | None = None
    days: Literal["any", "working"] = "any"
    closed: Text | None = None
    for_day: Expr | None = None  # the day a time question's times are on
    when_empty: str | None = None
    max_tries: int | None = None
    on_fail: str | None = None
    save: str | None = None
    profile: ProfileField | None = None
    consent: Consent | None = None


@dataclass(frozen=True, slots=True)
class Reminder:
    flow: str
    key: Text
    at: Text | None = None
    before: timedelta = timedelta(0)
    after: timedelta | None = None
    vars: Expr | None = None
    critical: bool = False
    ladder: Ladder | None = None  # only with ``critical``
    if_past: str | None = None  # a step to go to when the time has passed ...
    past_text: Text | None = None  # ... or a text to say then


@dataclass(frozen=True, slots=True)
class HttpCall:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: Text
    body: Expr
    headers: tuple[tuple[str, Text], ...] = ()
    save: str | None = None
    on_error: str | None = None
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Goto:
    target: str


@dataclass(frozen=True, slots=True)
class ByValue:
    """Go by the answer: ``cases`` maps an option id (or ``yes``/``no``) to a step."""

    source: str | None
    cases: Mapping[str, str]
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    """``[{if: cond, then: step}, …, {else: step}]``; a rule with ``None`` always matches."""

    rules: tuple[tuple[Expr | None, str], ...]


Next = Goto | ByValue | Rules


@dataclass(frozen=True, slots=True)
class CompiledStep:
    name: str
    line: int = 0  # where the step starts in its flow's file (for the owner's error lines)
    set: tuple[tuple[str, Expr], ...] = ()
    cancel: tuple[Text, ...] = ()
    remind: tuple[Reminder, ...] = ()
    tags: tuple[str, ...] = ()  # set on the customer's profile (``tag: vip``)
    handoff: Text | None = None
    link_channel: Channel | Literal["any"] | None = None
    say: Text | None = None
    image: Text | None = None
    links: tuple[tuple[Text, Text], ...] = ()
    markdown: bool = False
    http: HttpCall | None = None
    call: str | None = None
    question: Question | None = None
    end: bool = False
    next: Next | None = None

    @property
    def waits(self) -> bool:
        """True when the step stops the turn (a question or a call to the business)."""
        return self.question is not None or self.http is not None


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: Literal["command", "text", "button", "payload", "timer"]
    values: tuple[str, ...]
    step: str | None = None


@dataclass(frozen=True, slots=True)
class CompiledFlow:
    name: str
    title: str
    file: str
    start: str
    steps: Mapping[str, CompiledStep]
    triggers: tuple[Trigger, ...] = ()
    defaults: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Entry:
    """Where a trigger leads: a flow and the step to start at (None: the flow's start)."""

    flow: str
    step: str | None = None


@dataclass(frozen=True, slots=True)
class FlowSet:
    flows: Mapping[str, CompiledFlow]
    timezone: str
    warnings: tuple[Problem, ...] = ()
    menu: str | None = None
    commands: Mapping[str, CommandName] = field(default_factory=dict)
    texts: Texts = field(default_factory=Texts)
    env: Mapping[str, str] = field(default_factory=dict)
    on_start: Entry | None = None
    keywords: tuple[tuple[str, Entry], ...] = ()
    buttons: Mapping[str, Entry] = field(default_factory=dict)
    payloads: Mapping[str, Entry] = field(default_factory=dict)
    # False when a ``link_channel`` step could offer no other channel (only the web chat is on):
    # the choice options leading to such a step are then not offered (``steps.Run.options``).
    can_link: bool = True
    constants: Mapping[str, JSON] = field(default_factory=dict)  # ``_bot.yaml`` ``vars:``
    working: WorkingHours | None = None  # ``_bot.yaml`` ``working:`` (None: not declared)
