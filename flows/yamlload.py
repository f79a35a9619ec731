"""Restricted YAML reading that remembers where every node came from.

This module owns the first loading stage: YAML text -> plain Python data (dict, list, str,
int, float, bool, None) plus a map from each node's path to its line and column, so later
stages can name the exact place of a mistake. ``yes``/``no``/``on``/``off`` stay strings
(an owner writing ``next: {yes: a, no: b}`` means the words), dates stay strings, and a key
written twice in one mapping is an error instead of silently winning.

It must not validate the flow language (that is ``schema``/``loader``) and does no I/O: it
is given the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from flows import yamlerrors
from flows.messages import Msg, msg

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column of a node."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed YAML file: its data, where each value (and each mapping key) is, the source
    text of each value YAML read as a number (``31.02``), and notes on text YAML cut."""

    data: object
    values: Mapping[PathKey, Position]
    keys: Mapping[PathKey, Position]
    numbers: Mapping[PathKey, str] = field(default_factory=dict)
    notes: tuple[YamlNote, ...] = ()
    # a "key: value" YAML made of a list item with ': ' inside (``[Да, Нет: не хочу]``)
    pairs: frozenset[PathKey] = frozenset()

    def value_at(self, path: PathKey) -> Position:
        """Position of the value at ``path``, or of its nearest existing ancestor."""
        return _nearest(self.values, path)

    def key_at(self, path: PathKey) -> Position:
        """Position of the mapping key that ends ``path`` (falls back to the value)."""
        if path in self.keys:
            return self.keys[path]
        return _nearest(self.values, path)


@dataclass(frozen=True, slots=True)
class YamlProblem(Exception):
    """A YAML syntax error or a duplicate key, with its position and an owner-friendly text."""

    line: int
    column: int
    message: Msg


@dataclass(frozen=True, slots=True)
class YamlNote:
    """Something YAML read differently than the owner likely meant (a warning)."""

    line: int
    column: int
    message: Msg


# A number written like a day and month (31.02, 1.05): YAML reads it as 31.02, not a date.
_DAY_MONTH = re.compile(r"^(?:0?[1-9]|[12]\d|3[01])\.(?:0[1-9]|1[0-2])$")
_NUMERIC_KEYS = frozenset({"min", "max", "timeout", "status"})


def _nearest(table: Mapping[PathKey, Position], path: PathKey) -> Position:
    for cut in range(len(path), -1, -1):
        if path[:cut] in table:
            return table[path[:cut]]
    return Position(1, 1)


class _Loader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans and timestamps stay text."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def parse(text: str) -> Document:
    """Parse YAML ``text``; raises ``YamlProblem`` for syntax errors and duplicate keys."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise YamlProblem(*yamlerrors.explain(text, exc)) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, msg("yaml.error", detail=str(exc))) from exc
    finally:
        loader.dispose()
    if node is None:
        return Document(None, {}, {})
    walker = _Walker(loader, text.splitlines())
    try:  # a tag YAML cannot build ('!Внимание', '!!int abc') is found only now
        data = walker.build(node, ())
    except yaml.MarkedYAMLError as exc:
        raise YamlProblem(*yamlerrors.explain(text, exc)) from exc
    return Document(data, walker.values, walker.keys, walker.numbers, tuple(walker.notes),
                    frozenset(walker.pairs))


@dataclass(slots=True)
class _Walker:
    loader: _Loader
    lines: list[str]
    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)
    numbers: dict[PathKey, str] = field(default_factory=dict)
    notes: list[YamlNote] = field(default_factory=list)
    pairs: set[PathKey] = field(default_factory=set)

    def build(self, node: yaml.Node, path: PathKey) -> object:
        where = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        self.values[path] = where
        if isinstance(node, yaml.MappingNode):
            if _split_item(node, path, self.lines):
                self.pairs.add(path)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        value: object = self.loader.construct_object(node, deep=True)
        if isinstance(node, yaml.ScalarNode) and node.style is None:
            self._look(node, value, path, where)
        return value

    def _look(self, node: yaml.ScalarNode, value: object, path: PathKey, at: Position) -> None:
        """Remember numbers' source text; note a date read as a number, a text cut at '#'."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.numbers[path] = node.value
            last = path[-1] if path else ""
            if _DAY_MONTH.match(node.value) and last not in _NUMERIC_KEYS:
                self.notes.append(YamlNote(at.line, at.column,
                                           msg("yaml.date_number", raw=node.value)))
        elif isinstance(value, str) and _is_prose(value):
            end = node.end_mark
            rest = self.lines[end.line][end.column:] if end.line < len(self.lines) else ""
            if re.match(r"\s+#", rest):
                cut = rest.strip()
                self.notes.append(YamlNote(at.line, at.column,
                                           msg("yaml.hash_cut", kept=value, cut=cut)))

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, object]:
        self.loader.flatten_mapping(node)
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            raw = self.loader.construct_object(key_node, deep=True)
            key = "null" if raw is None else str(raw)
            where = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in result:
                raise self._duplicate(node, path, key, where)
            self.keys[(*path, key)] = where
            result[key] = self.build(value_node, (*path, key))
        return result


    def _duplicate(self, node: yaml.MappingNode, path: PathKey, key: str, again: Position
                   ) -> YamlProblem:
        """A key written twice; when a block opened between the two (a name indented one
        level too far swallows the keys after it), that block's line is the culprit."""
        first = self.keys[(*path, key)]
        between = [(k, v) for k, v in node.value
                   if first.line < k.start_mark.line + 1 < again.line]
        empty = [k for k, v in between if isinstance(v, yaml.ScalarNode) and v.value == ""
                 and v.tag == "tag:yaml.org,2002:null"]
        blocks = [k for k, v in between if isinstance(v, yaml.MappingNode)]
        culprit = next(iter((*empty, *blocks)), None)
        if culprit is not None:
            return YamlProblem(culprit.start_mark.line + 1, culprit.start_mark.column + 1, msg(
                "yaml.swallowed", name=culprit.value, key=key, first=first.line,
                again=again.line))
        return YamlProblem(again.line, again.column,
                           msg("yaml.duplicate", key=key, line=first.line))


def _is_prose(value: str) -> bool:
    """Text for a customer (words, or any non-Latin letter), not a step name or an id."""
    return " " in value.strip() or any(ord(ch) > 127 for ch in value)


def _split_item(node: yaml.MappingNode, path: PathKey, lines: list[str]) -> bool:
    """A list item YAML read as "key: value" because its text has ': ' in it: written
    without braces in a [list], or a one-pair item whose "key" is prose (``- Утро: 9-12``)."""
    mark = node.start_mark
    if node.flow_style:
        return lines[mark.line][mark.column:mark.column + 1] != "{"
    if not path or not isinstance(path[-1], int) or len(node.value) != 1:
        return False
    key = node.value[0][0]
    return isinstance(key, yaml.ScalarNode) and _is_prose(str(key.value))
