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

from flows.messages import NOTHING, Msg, msg
from flows.problems import Problem, did_you_mean, listing
from flows.schema import CHANNEL_PATTERN, STEP_KEYS, STEP_REF_PATTERN, TAG_PATTERN
from flows.yamlload import Document, PathKey

M = TypeVar("M", bound=BaseModel)

# The catalogue key of the form expected at each key that takes several shapes.
SHAPE_HINTS = {key: f"shape.{key}" for key in
               ("next", "choice", "text", "remind", "cancel_reminder", "handoff", "tag")}
# What a value of each constrained form looks like (other patterns are names).
PATTERN_HINTS = {CHANNEL_PATTERN: "pattern.channel", TAG_PATTERN: "pattern.tag",
                 STEP_REF_PATTERN: "pattern.step_ref"}
TYPE_WORDS = {
    "string_type": "type.text",
    "int_type": "type.int",
    "int_parsing": "type.int",
    "float_type": "type.number",
    "float_parsing": "type.number",
    "bool_type": "type.bool",
    "bool_parsing": "type.bool",
    "list_type": "type.list",
    "dict_type": "type.mapping",
    "model_type": "type.mapping",
    "model_attributes_type": "type.mapping",
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
    split: set[PathKey] = set()  # list items YAML made a mapping of: one message each
    for error in errors:
        path = _real_path(doc.data, error["loc"])
        pair = next((p for p in doc.pairs if path[:len(p)] == p), None)
        if pair is None:
            grouped.setdefault(path, []).append(error)
        elif pair not in split:
            split.add(pair)
            pos = doc.value_at(pair)
            key = next((k for k in reversed(pair) if isinstance(k, str)), "choice")
            yield Problem(file, pos.line, pos.column, msg("schema.at", where=_where(pair),
                                                          what=msg("yaml.colon_in_item",
                                                                   key=key)))
    for path, group in grouped.items():
        if not _shadowed(path, group, [*grouped, *split]):
            yield _one(model, doc, file, path, group)


def _shadowed(path: PathKey, group: list[ErrorDetails], grouped: list[PathKey]) -> bool:
    """A union's "wrong type" error hides behind a more precise error inside the value; an
    empty step hides behind its keys written at the level of steps (one indentation slip)."""
    if not all(e["type"] in TYPE_WORDS for e in group):
        return False
    if _empty_step(path, group) and any(_step_key_as_step(other) for other in grouped):
        return True
    return any(len(other) > len(path) and other[: len(path)] == path for other in grouped)


def _step_key_as_step(path: PathKey) -> bool:
    return len(path) == 2 and path[0] == "steps" and path[1] in STEP_KEYS


def _empty_step(path: PathKey, group: list[ErrorDetails]) -> bool:
    return len(path) == 2 and path[0] == "steps" and group[0].get("input") is None


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
        return Problem(file, pos.line, pos.column, msg(
            "schema.unknown_key", where=where, key=path[-1],
            hint=did_you_mean(str(path[-1]), allowed), allowed=listing(allowed, 30)))
    pos = doc.value_at(path)
    if kind in TYPE_WORDS and _step_key_as_step(path):
        pos = doc.key_at(path)
        return Problem(file, pos.line, pos.column, msg("schema.step_key_as_step", key=path[1]))
    if kind in TYPE_WORDS and _empty_step(path, group):
        pos = doc.key_at(path)
        return Problem(file, pos.line, pos.column, msg("schema.empty_step", step=path[1]))
    if kind == "missing":
        return Problem(file, pos.line, pos.column, msg("schema.missing", where=where,
                                                       key=path[-1]))
    return Problem(file, pos.line, pos.column, msg(
        "schema.at", where=where, what=_describe(error, group, path, doc)))


def _pick(group: list[ErrorDetails]) -> ErrorDetails:
    for error in group:
        if error["type"] in ("extra_forbidden", "missing", "value_error"):
            return error
    return group[0]


def _describe(error: ErrorDetails, group: list[ErrorDetails], path: PathKey,
              doc: Document) -> Msg:
    found = error.get("input")
    key = str(path[-1]) if path and isinstance(path[-1], str) else None
    raw = doc.numbers.get(path)
    if raw is not None and error["type"] == "string_type":
        return msg("schema.number_not_text", raw=raw)
    if error["type"] == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        return msg("schema.not_allowed", found=found, hint=did_you_mean(str(found), allowed),
                   allowed=", ".join(allowed))
    if error["type"] == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(str(error.get("ctx", {}).get("pattern")), "pattern.name")
        return msg(hint, found=found)
    if error["type"] == "value_error":
        reason = error.get("ctx", {}).get("error")
        return reason.args[0] if isinstance(reason, ValueError) and isinstance(
            reason.args[0], Msg) else msg("schema.raw", text=error["msg"].removeprefix(
                "Value error, "))
    named = msg("schema.key", key=key) if key else msg("schema.this_value")
    limit = _limit(error)
    if limit is not None:
        return msg("schema.limit", key=named, limit=limit, found=repr(found))
    if len(group) > 1 and key in SHAPE_HINTS:
        return msg("schema.wrong_shape", found=repr(found), shape=msg(SHAPE_HINTS[key]))
    wanted = TYPE_WORDS.get(error["type"])
    if wanted:
        return msg("schema.wrong_type", key=named, wanted=msg(wanted), found=repr(found))
    return msg("schema.other", key=named, text=error["msg"], found=repr(found))


# pydantic's bounds: (error type, its context key, the catalogue key of the words)
_LIMITS = {
    "less_than_equal": ("le", "limit.le"), "less_than": ("lt", "limit.lt"),
    "greater_than_equal": ("ge", "limit.ge"), "greater_than": ("gt", "limit.gt"),
    "too_short": ("min_length", "limit.min_items"), "too_long": ("max_length", "limit.max_items"),
    "string_too_short": ("min_length", "limit.min_chars"),
    "string_too_long": ("max_length", "limit.max_chars"),
}


def _limit(error: ErrorDetails) -> Msg | None:
    """A bound the value breaks ('не больше 20'), or None for other errors."""
    known = _LIMITS.get(error["type"])
    if known is None:
        return None
    value = error.get("ctx", {}).get(known[0])
    return None if value is None else msg(known[1], value=value)


def _where(path: PathKey) -> Msg:
    if len(path) >= 2 and path[0] == "steps":
        return msg("where.step", step=path[1])
    if len(path) >= 2 and path[0] == "triggers" and isinstance(path[1], int):
        return msg("where.trigger", number=path[1] + 1)
    return NOTHING


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
