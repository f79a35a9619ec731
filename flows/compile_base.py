"""Shared ground of the flow compiler: positions, problems, targets and templates.

Owns ``CompilerBase`` — where a compiled file reports its problems (with line and column),
how step targets are checked ("'pay' points to no step; steps are: …") and how owner text
becomes compiled templates, with fast paths for plain ``{{ name }}`` holes. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from flows import templates, templatewords
from flows.messages import NOTHING, Msg, msg
from flows.model import (
    ConstText,
    ConstValue,
    DictValue,
    Expr,
    FastText,
    ListValue,
    NameValue,
    Text,
    TextValue,
    is_plain_path,
)
from flows.problems import Problem, did_you_mean, listing
from flows.types import JSON
from flows.yamlload import Document, PathKey

_PATH = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_NAME = re.compile(rf"\s*(?:\{{\{{\s*(?P<path>{_PATH})\s*\}}\}}|(?P<bare>{_PATH}))\s*")
_HOLE = re.compile(rf"\{{\{{\s*({_PATH})\s*\}}\}}")
_WHOLE_EXPR = re.compile(r"^\s*\{\{(?:(?!\}\}).)*\}\}\s*$", re.S)


@dataclass(slots=True)
class CompilerBase:
    """Collects the problems of one file instead of stopping at the first."""

    file: str
    doc: Document
    problems: list[Problem] = field(default_factory=list)
    channels: frozenset[str] | None = None  # the bot's channels; None: any name passes
    send_only: frozenset[str] = frozenset()  # of them, those that carry notices only
    # (where, names read) of every template, for the loader's unknown-variable warnings
    uses: list[tuple[PathKey, frozenset[str]]] = field(default_factory=list)

    def error(self, path: PathKey, message: Msg, *, key: bool = False) -> None:
        pos = self.doc.key_at(path) if key else self.doc.value_at(path)
        self.problems.append(Problem(self.file, pos.line, pos.column, message))

    def channel(self, name: str | None, path: PathKey) -> str | None:
        """A ``link_channel`` target: "any", or one of the bot's channels a customer can
        write in (a dialogue cannot move to SMS or e-mail)."""
        if name is None or name == "any":
            return name
        live = sorted(set(self.channels or ()) - self.send_only)
        if name in self.send_only:
            self.error(path, msg("channel.send_only", where=where_of(path), name=name,
                                 known=", ".join(live)))
        elif self.channels is not None and name not in self.channels:
            self.error(path, msg("channel.unknown", where=where_of(path), name=name,
                                 known=", ".join(live)))
        return name

    # ----------------------------------------------------------------- templates

    def text(self, source: str, path: PathKey) -> Text:
        if "{" not in source:
            return ConstText(source)
        try:
            compiled = templates.compile_text(source)
        except templates.TemplateProblem as exc:
            self._template_error(path, exc)
            return ConstText(source)
        self.uses.append((path, compiled.names))
        return fast_text(source, compiled)

    def expr(self, source: str, path: PathKey) -> Expr:
        try:
            compiled = templates.compile_expr(source)
        except templates.TemplateProblem as exc:
            self._template_error(path, exc)
            return ConstValue(None)
        self.uses.append((path, compiled.names))
        name = _NAME.fullmatch(source)
        if name and is_plain_path(parts := tuple((name["path"] or name["bare"]).split("."))):
            return NameValue(parts, compiled)
        return compiled

    def value(self, data: JSON, path: PathKey) -> Expr:
        if isinstance(data, str):
            if _WHOLE_EXPR.match(data):
                return self.expr(data, path)
            return TextValue(self.text(data, path)) if "{" in data else ConstValue(data)
        if isinstance(data, list):
            return ListValue(tuple(self.value(v, (*path, i)) for i, v in enumerate(data)))
        if isinstance(data, dict):
            return DictValue(tuple((k, self.value(v, (*path, k))) for k, v in data.items()))
        return ConstValue(data)

    def _template_error(self, path: PathKey, exc: templates.TemplateProblem) -> None:
        pos = self.doc.value_at(path)
        line = pos.line + max(0, (exc.lineno or 1) - 1)
        self.problems.append(
            Problem(self.file, line, pos.column,
                    msg("template.error", where=where_of(path),
                        detail=templatewords.explain(exc.message)))
        )

    # ----------------------------------------------------------------- flow

    def target_error(self, path: PathKey, target: str, names: Sequence[str]) -> None:
        self.error(path, msg("target.missing", where=where_of(path), target=target,
                             hint=did_you_mean(target, names), steps=listing(names, 30)))

    def target(self, target: str | None, path: PathKey, names: Sequence[str]) -> str | None:
        if target is not None and target not in names:
            self.target_error(path, target, names)
        return target


def fast_text(source: str, slow: Text) -> Text:
    """Text with only ``{{ name }}`` holes renders without Jinja (see ``FastText``)."""
    pieces = _HOLE.split(source)
    literals, names = pieces[0::2], pieces[1::2]
    if any(("{" in lit or "}" in lit) for lit in literals) or source.endswith("\n"):
        return slow
    paths = [tuple(n.split(".")) for n in names]
    if not all(is_plain_path(p) for p in paths):
        return slow
    parts: list[str | tuple[str, ...]] = []
    for i, literal in enumerate(literals):
        if literal:
            parts.append(literal)
        if i < len(paths):
            parts.append(paths[i])
    return FastText(tuple(parts), slow)


def where_of(path: PathKey) -> Msg:
    """'step 'x': ' for a place inside a step, else nothing."""
    return msg("where.step", step=path[1]) if len(path) >= 2 and path[0] == "steps" else NOTHING
