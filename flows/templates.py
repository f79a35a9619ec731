"""Owner-written templates and expressions: Jinja2 in its immutable sandbox, compiled once.

Owns the template environment (``ImmutableSandboxedEnvironment``, ``StrictUndefined``, no
autoescape, no loader), its Russian filters (``date_ru``, ``date_full_ru``, ``weekday_ru``,
``time_ru``, ``datetime_ru``, ``plural``, ``money``, ``number``) and the mapping of Jinja's
errors onto ours: ``TemplateProblem`` when the owner's source is wrong (at load time, with a
line number), ``TemplateRenderError`` when rendering fails (an undefined variable, a sandbox
refusal, a filter given a wrong value).

Customer text is only ever a value in the context, never template source: nothing here turns a
context value into a template. Beyond Jinja's sandbox it refuses, at compile time, names and
attributes starting with ``_``, ``self``, and ``include``/``import``/``extends``; at render
time it caps ``**`` and sequence repetition so one template cannot eat the machine.
No I/O, no clock.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time
from difflib import get_close_matches
from functools import lru_cache
from types import TracebackType
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.meta import find_undeclared_variables
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows import ru
from flows.errors import SvyazError
from flows.types import JSON

MAX_POWER = 1_000  # largest exponent of ``**``
MAX_POWER_BITS = 100_000  # largest integer ``**`` may build
MAX_REPEAT = 100_000  # longest string or list ``*`` may build

RENDER_ERRORS = (
    TemplateError,
    ArithmeticError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    RecursionError,
)


class TemplateProblem(SvyazError):
    """The owner's template source is wrong; ``lineno`` counts from 1 within the source."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message if lineno is None else f"line {lineno}: {message}")
        self.message = message
        self.lineno = lineno


class TemplateRenderError(SvyazError):
    """A compiled template or expression could not be rendered with the given context."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.lineno = lineno


# --------------------------------------------------------------------------- environment


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, plus limits on ``**`` and on ``"x" * n``."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Stored data is JSON: ``order.items`` means the key, not ``dict.items``.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            _check_power(left, right)
            return operator.pow(left, right)
        _check_repeat(left, right)
        return operator.mul(left, right)


def _check_power(base: object, exponent: object) -> None:
    if not isinstance(exponent, int | float) or abs(exponent) <= 1:
        return
    if abs(exponent) > MAX_POWER:
        raise SecurityError(f"exponent {exponent} is too large (at most {MAX_POWER})")
    if isinstance(base, int) and base.bit_length() * abs(exponent) > MAX_POWER_BITS:
        raise SecurityError("the power would be too large a number")


def _check_repeat(left: object, right: object) -> None:
    for seq, times in ((left, right), (right, left)):
        if (
            isinstance(seq, str | list | tuple)
            and isinstance(times, int)
            and len(seq) * times > MAX_REPEAT
        ):
            raise SecurityError(f"repeating would make {len(seq) * times} items")


def _finalize(value: object) -> object:
    """``None`` prints as nothing rather than "None"; a list never hides an undefined item."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        to_json(value)  # raises for an undefined (or unsafe) item
    return value


def _filter(name: str, func: Callable[..., str]) -> Callable[..., str]:
    """Wrap a formatting function so a wrong value names the filter in the error."""

    def apply(*args: Any, **kwargs: Any) -> str:
        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            raise TemplateRenderError(f"filter '{name}': {exc}") from exc

    apply.__name__ = name
    return apply


def _plural(n: object, one: str, few: str, many: str, *, with_number: bool = True) -> str:
    if isinstance(n, bool) or not isinstance(n, int | float | str):
        raise ValueError(f"expected a number, got {n!r}")
    number = float(str(n).replace(",", ".").replace(" ", "").replace(ru.NBSP, ""))
    word = ru.plural_form(number, one, few, many)
    return f"{ru.format_number(str(n))} {word}" if with_number else word


_FORMATS: dict[str, Callable[..., str]] = {
    "date_ru": ru.format_date,
    "date_full_ru": ru.format_date_full,
    "weekday_ru": ru.format_weekday,
    "time_ru": ru.format_time,
    "datetime_ru": ru.format_datetime,
    "plural": _plural,
    "money": ru.format_money,
    "number": ru.format_number,
}
FILTERS: Mapping[str, Callable[..., str]] = {
    name: _filter(name, func) for name, func in _FORMATS.items()
}


def _environment() -> _Sandbox:
    env = _Sandbox(
        undefined=StrictUndefined,
        autoescape=False,
        finalize=_finalize,
        keep_trailing_newline=True,
        cache_size=0,
    )
    env.globals = {"range": env.globals["range"], "dict": dict}
    env.filters.update(FILTERS)
    return env


ENV = _environment()


# --------------------------------------------------------------------------- compile checks

_FORBIDDEN_TAGS: Mapping[type[nodes.Node], str] = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}
_RESERVED_NAMES = frozenset({"self"})


def _check_tree(tree: nodes.Node) -> None:
    """Refuse, at load time, what can only be an escape attempt or can never work here."""
    for node in (tree, *tree.find_all((nodes.Node,))):
        problem = _node_problem(node)
        if problem is not None:
            raise TemplateProblem(problem, node.lineno)


def _node_problem(node: nodes.Node) -> str | None:
    for kind, tag in _FORBIDDEN_TAGS.items():
        if isinstance(node, kind):
            return f"'{{% {tag} %}}' is not available in flow templates"
    if isinstance(node, nodes.Name) and (node.name.startswith("_") or node.name in _RESERVED_NAMES):
        return f"the name '{node.name}' is not allowed"
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return f"the attribute '{node.attr}' is not allowed (names starting with '_' are private)"
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
        and node.arg.value.startswith("_")
    ):
        return f"the key '{node.arg.value}' is not allowed (names starting with '_' are private)"
    return None


def _explain(exc: TemplateSyntaxError) -> str:
    """Jinja's message, plus the likely fix for an unknown filter or test."""
    message = exc.message or "syntax error"
    unknown = re.match(r"No (filter|test) named '([^']*)'", message)
    if unknown is None:
        return message
    kind, name = unknown.groups()
    known = sorted(ENV.filters if kind == "filter" else ENV.tests)
    close = get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    if kind == "filter":
        return f"{message} {hint}Russian filters: {', '.join(sorted(FILTERS))}"
    return f"{message} {hint}".rstrip()


# --------------------------------------------------------------------------- text


class _Compiled:
    """A compiled Jinja template, its source and the context variables (``names``) it reads."""

    __slots__ = ("_template", "names", "source")

    def __init__(self, source: str, template: Template, names: frozenset[str]) -> None:
        self.source = source
        self.names = names
        self._template = template

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


class TextTemplate(_Compiled):
    """A compiled text template; ``names`` are the context variables it reads."""

    __slots__ = ()

    def render(self, context: Mapping[str, JSON]) -> str:
        with _rendering():
            return self._template.render(context)
        raise AssertionError("unreachable")  # pragma: no cover - for mypy


@lru_cache(maxsize=4096)
def compile_text(source: str) -> TextTemplate:
    """Compile an owner's text template once; raises ``TemplateProblem``."""
    try:
        tree = ENV.parse(source)
        _check_tree(tree)
        template = _from_tree(tree)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(_explain(exc), exc.lineno) from exc
    names = frozenset(find_undeclared_variables(tree))
    return TextTemplate(source, template, names)


def _from_tree(tree: nodes.Template) -> Template:
    """``ENV.from_string`` with the template's globals flattened into one dict.

    Jinja keeps a template's globals as a ``ChainMap`` over the environment's and iterates it
    twice per render (``new_context``: ``dict(globals, **vars)`` and ``set(globals)``), in
    Python: ~1 % of the bot's CPU on the booking load (profile: ``ChainMap.__iter__`` under
    ``Context.__init__``). ``ENV.globals`` is set once, before any template is compiled, so a
    copy holds the same names and values."""
    template = ENV.from_string(tree)
    template.globals = dict(template.globals)
    return template


# --------------------------------------------------------------------------- expressions

_WRAPPED = re.compile(r"\s*\{\{(?P<inner>.*)\}\}\s*", re.DOTALL)


class Expression(_Compiled):
    """A compiled expression such as ``value >= today``; evaluates to a JSON value."""

    __slots__ = ()

    def evaluate(self, context: Mapping[str, JSON]) -> JSON:
        # What ``Environment.compile_expression`` does, minus its ``**kwargs`` call, so a
        # context key may be any string.
        with _rendering():
            jinja_context = self._template.new_context(dict(context))
            for _ in self._template.root_render_func(jinja_context):
                pass
            return to_json(jinja_context.vars["result"])
        raise AssertionError("unreachable")  # pragma: no cover - for mypy


@lru_cache(maxsize=4096)
def compile_expr(source: str) -> Expression:
    """Compile ``value >= today`` or ``{{ value >= today }}`` once; raises ``TemplateProblem``."""
    wrapped = _WRAPPED.fullmatch(source)
    inner = wrapped["inner"] if wrapped and "{{" not in wrapped["inner"] else source
    if not inner.strip():
        raise TemplateProblem("the expression is empty", 1)
    try:
        parser = Parser(ENV, inner, state="variable")
        tree = parser.parse_expression()
        if not parser.stream.eos:
            token = parser.stream.current
            raise TemplateSyntaxError(
                f"unexpected {token.value!r} after the expression", token.lineno
            )
        _check_tree(tree)
        body = nodes.Template([nodes.Assign(nodes.Name("result", "store"), tree)], lineno=1)
        template = _from_tree(body)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(_explain(exc), exc.lineno) from exc
    names = frozenset(node.name for node in tree.find_all(nodes.Name) if node.ctx == "load")
    return Expression(inner.strip(), template, names)


def to_json(value: object) -> JSON:
    """An expression's result as stored JSON; dates become ISO text like the inputs store."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming the variable
        raise TemplateRenderError("the expression gave an undefined value")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: to_json(item) for key, item in value.items()}
    raise TemplateRenderError(f"the expression gave a {type(value).__name__}, not a value")


# --------------------------------------------------------------------------- errors


@contextmanager
def _rendering() -> Iterator[None]:
    """Map whatever Jinja or a filter raises while rendering onto ``TemplateRenderError``."""
    try:
        yield
    except TemplateRenderError as exc:
        if exc.lineno is None:
            exc.lineno = _template_line(exc.__traceback__)
        raise
    except RENDER_ERRORS as exc:
        raise _render_error(exc) from exc


def _render_error(exc: BaseException) -> TemplateRenderError:
    if isinstance(exc, SecurityError):
        message = f"not allowed in a template: {exc}"
    elif isinstance(exc, TemplateError):
        message = exc.message or type(exc).__name__
    elif isinstance(exc, RecursionError):
        message = "the template calls itself without end"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return TemplateRenderError(message, _template_line(exc.__traceback__))


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line Jinja's rewritten traceback points at, if any."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
