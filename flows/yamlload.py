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
from dataclasses import dataclass

import yaml

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column of a node."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed YAML file: its data and where each value (and each mapping key) is."""

    data: object
    values: Mapping[PathKey, Position]
    keys: Mapping[PathKey, Position]

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
    message: str


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
        raise _syntax_problem(exc) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, f"YAML error: {exc}") from exc
    finally:
        loader.dispose()
    values: dict[PathKey, Position] = {}
    keys: dict[PathKey, Position] = {}
    if node is None:
        return Document(None, values, keys)
    data = _Walker(loader, values, keys).build(node, ())
    return Document(data, values, keys)


def _syntax_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    parts = [p for p in (exc.context, exc.problem) if p]
    start = exc.context_mark
    if start is not None and mark is not None and start.line != mark.line:
        parts.append(f"(it began on line {start.line + 1})")
    hint = ""
    if exc.problem and "tab" in exc.problem:
        hint = " — use spaces, not tabs, for indentation"
    elif exc.problem and ("mapping values" in exc.problem or "expected <block end>" in exc.problem):
        hint = " — check the indentation and that a value with ':' is in quotes"
    return YamlProblem(
        line,
        column,
        "YAML syntax error: " + ", ".join(parts[:2]) + " ".join(["", *parts[2:]]) + hint,
    )


@dataclass(slots=True)
class _Walker:
    loader: _Loader
    values: dict[PathKey, Position]
    keys: dict[PathKey, Position]

    def build(self, node: yaml.Node, path: PathKey) -> object:
        self.values[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        value: object = self.loader.construct_object(node, deep=True)
        return value

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, object]:
        self.loader.flatten_mapping(node)
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            raw = self.loader.construct_object(key_node, deep=True)
            key = "null" if raw is None else str(raw)
            where = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in result:
                first = self.keys[(*path, key)]
                raise YamlProblem(
                    where.line,
                    where.column,
                    f"the key '{key}' is written twice in one place (first on line "
                    f"{first.line}); remove or rename one of them",
                )
            self.keys[(*path, key)] = where
            result[key] = self.build(value_node, (*path, key))
        return result
