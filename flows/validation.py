"""Second loading stage: plain YAML data -> pydantic models, with owner-friendly errors.

Owns the translation of pydantic's errors into ``Problem``s that name the file, line and
column, the bad value, the allowed keys or values and a likely fix ("unknown key 'nxt'; did
you mean 'next'?"). Union alternatives are folded into one message per place.

It must not check meaning across keys (``flows.compiler`` does) and does no I/O.
"""

from __future__ import annotations

import copy
import re
import types
from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from flows.problems import Problem, did_you_mean, listing
from flows.schema import CHANNEL_PATTERN, DURATION_PATTERN
from flows.yamlload import Document, PathKey

M = TypeVar("M", bound=BaseModel)

SHAPE_HINTS = {
    "next": "a step name, a mapping from answer to step ({yes: a, no: b}) "
    "or a list of rules ([{if: ..., then: step}, {else: step}])",
    "choice": "a list of button texts, or a mapping id: text",
    "text": "a word or phrase, or a list of them",
    "remind": "a reminder {flow: ..., at: ..., before: 24h} or a list of them",
    "cancel_reminder": "a reminder key or a list of keys",
    "handoff": "a text for the customer, or true",
}
# What a value of each constrained form looks like (other patterns are names).
PATTERN_HINTS = {
    DURATION_PATTERN: "is not a duration: write a number and m, h, d or w, e.g. 30m, 2h, 1d",
    CHANNEL_PATTERN: "is not a channel name: use lower-case Latin letters, digits and '_', "
    "e.g. sms",
}
TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}


def validate(
    model: type[M], doc: Document, file: str, *, salvage: bool = False
) -> tuple[M | None, list[Problem]]:
    """Validate ``doc.data`` against ``model``; problems are empty when it fits.

    With ``salvage``, a file with mistakes still yields a model built from what is left
    after dropping the wrong keys, so later stages can report their problems in the same
    run (a typo'd key and a dangling goto of one file, together).
    """
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        found = sorted(_problems(model, doc, file, exc.errors()), key=lambda p: (p.line, p.column))
        rest = _salvage(model, doc.data, exc) if salvage else None
        return rest, found


def _salvage(model: type[M], data: object, exc: ValidationError) -> M | None:
    data = copy.deepcopy(data)
    for _ in range(5):
        for error in exc.errors():
            if not _prune(data, _real_path(data, error["loc"])):
                return None
        try:
            return model.model_validate(data)
        except ValidationError as again:
            exc = again
    return None


def _prune(data: object, path: PathKey) -> bool:
    """Remove the wrong part at ``path`` (whole keys only, never list items or steps)."""
    cut = next((path[:i] for i, part in enumerate(path) if isinstance(part, int)), path)
    if not cut or not isinstance(data, dict):
        return False
    parent: object = data
    for part in cut[:-1]:
        parent = parent.get(part) if isinstance(parent, dict) else None
    if not isinstance(parent, dict):
        return False
    if len(cut) == 2 and cut[0] == "steps":
        parent[cut[1]] = {}
    elif cut == ("steps",):
        return False
    else:
        parent.pop(cut[-1], None)
    return True


def _problems(
    model: type[BaseModel], doc: Document, file: str, errors: list[ErrorDetails]
) -> Iterator[Problem]:
    grouped: dict[PathKey, list[ErrorDetails]] = {}
    for error in errors:
        grouped.setdefault(_real_path(doc.data, error["loc"]), []).append(error)
    for path, group in grouped.items():
        if not _shadowed(path, group, grouped):
            yield _one(model, doc, file, path, group)


def _shadowed(
    path: PathKey, group: list[ErrorDetails], grouped: dict[PathKey, list[ErrorDetails]]
) -> bool:
    """A union's "wrong type" error hides behind a more precise error inside the value."""
    if not all(e["type"] in TYPE_WORDS for e in group):
        return False
    return any(len(other) > len(path) and other[: len(path)] == path for other in grouped)


def _real_path(data: object, loc: tuple[int | str, ...]) -> PathKey:
    """Drop pydantic's union member tags from ``loc``, keeping only keys/indices in the data."""
    path: list[str | int] = []
    node = data
    for part in loc:
        child = _child(node, part)
        if child is not _NOTHING:
            node = child
        elif isinstance(node, dict) and isinstance(part, str) and not _is_tag(part):
            path.append(part)  # a missing key: keep it, nothing below it
            break
        else:
            continue
        path.append(part)
    return tuple(path)


_NOTHING = object()


def _child(node: object, part: int | str) -> object:
    if isinstance(node, dict):
        return node.get(part, _NOTHING)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _NOTHING


def _is_tag(part: str) -> bool:
    return (
        bool(re.search(r"[\[\]\-,]", part))
        or part in {"str", "int", "float", "bool"}
        or (part[:1].isupper())
    )


def _one(
    model: type[BaseModel], doc: Document, file: str, path: PathKey, group: list[ErrorDetails]
) -> Problem:
    error = _pick(group)
    where = _where(path)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, path[:-1])
        pos = doc.key_at(path)
        message = (
            f"{where}unknown key '{path[-1]}'{did_you_mean(str(path[-1]), allowed)}"
            f" (allowed keys: {listing(allowed, 30)})"
        )
        return Problem(file, pos.line, pos.column, message)
    pos = doc.value_at(path)
    if kind == "missing":
        return Problem(
            file,
            pos.line,
            pos.column,
            f"{where[:-2] or 'the file'}: the key '{path[-1]}' is required",
        )
    return Problem(file, pos.line, pos.column, where + _describe(error, group, path))


def _pick(group: list[ErrorDetails]) -> ErrorDetails:
    for error in group:
        if error["type"] in ("extra_forbidden", "missing", "value_error"):
            return error
    return group[0]


def _describe(error: ErrorDetails, group: list[ErrorDetails], path: PathKey) -> str:
    found = error.get("input")
    key = str(path[-1]) if path and isinstance(path[-1], str) else "this value"
    if error["type"] == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        return (
            f"'{found}' is not allowed here{did_you_mean(str(found), allowed)} "
            f"(allowed: {', '.join(allowed)})"
        )
    if error["type"] == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(str(error.get("ctx", {}).get("pattern")))
        if hint:
            return f"'{found}' {hint}"
        return (
            f"'{found}' is not a valid name: use Latin letters, digits, '_' or '-', "
            f"starting with a letter"
        )
    if error["type"] == "value_error":
        return error["msg"].removeprefix("Value error, ")
    if len(group) > 1 and key in SHAPE_HINTS:
        return f"'{key}' has the wrong form (found {found!r}); expected {SHAPE_HINTS[key]}"
    wanted = TYPE_WORDS.get(error["type"])
    if wanted:
        return f"'{key}' should be {wanted}, found {found!r}"
    return f"'{key}': {error['msg'][:1].lower()}{error['msg'][1:]} (found {found!r})"


def _where(path: PathKey) -> str:
    if len(path) >= 2 and path[0] == "steps":
        return f"step '{path[1]}': "
    if len(path) >= 2 and path[0] == "triggers" and isinstance(path[1], int):
        return f"trigger {path[1] + 1}: "
    return ""


def _allowed_keys(root: type[BaseModel], path: PathKey) -> list[str]:
    annotations: list[Any] = [root]
    for part in path:
        annotations = [inner for ann in annotations for inner in _descend(ann, part)]
    keys: list[str] = []
    for ann in annotations:
        for cls in _models_in(ann):
            keys.extend((f.alias or name) for name, f in cls.model_fields.items())
    return sorted(set(keys))


def _descend(annotation: Any, part: str | int) -> list[Any]:
    found: list[Any] = []
    for ann in _alternatives(annotation):
        origin = get_origin(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel) and isinstance(part, str):
            found.extend(
                f.annotation for n, f in ann.model_fields.items() if (f.alias or n) == part
            )
        elif origin in (list, tuple) and isinstance(part, int):
            found.extend(get_args(ann)[:1])
        elif origin is dict and isinstance(part, str):
            found.extend(get_args(ann)[1:2])
    return found


def _alternatives(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _alternatives(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [alt for arg in get_args(annotation) for alt in _alternatives(arg)]
    if origin is Literal:
        return []
    return [annotation]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    return [
        a for a in _alternatives(annotation) if isinstance(a, type) and issubclass(a, BaseModel)
    ]
