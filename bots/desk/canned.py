"""Canned replies: texts the owner writes once in ``_desk.yaml`` in the flows folder
(``SVYAZ_FLOWS``), which an operator inserts with one click.

    replies:
      - title: Часы работы
        text: Мы работаем ежедневно с 10:00 до 20:00.

Read with the flows' own YAML stage (``flows.yamlload``: positions, no yes/no surprises) and
checked by ``svyaz check`` with the same ``file:line:col`` messages. This module must not
send anything; the desk's page offers the texts and the operator sends them.
"""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from flows.messages import msg
from flows.problems import Problem
from flows.validation import validate
from flows.yamlload import YamlProblem, parse

DESK_FILE = "_desk.yaml"


class CannedReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=60, description="the button's label")
    text: str = Field(min_length=1, max_length=4000, description="what the customer gets")


class DeskFile(BaseModel):
    """``_desk.yaml``: the desk's settings the owner writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    replies: tuple[CannedReply, ...] = ()


def load_canned(folder: Path) -> tuple[tuple[CannedReply, ...], list[Problem]]:
    """The folder's canned replies and the problems of its ``_desk.yaml`` (none: no file);
    read again only when the file changes (each conversation page asks)."""
    path = folder / DESK_FILE
    try:
        seen = path.stat()
    except OSError:
        return (), []
    replies, problems = _load(path, seen.st_mtime_ns, seen.st_size)
    return replies, list(problems)  # the caller's own list: the cached one stays


@functools.lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int, size: int) -> tuple[tuple[CannedReply, ...], list[Problem]]:
    if not path.is_file():
        return (), []
    try:
        doc = parse(path.read_text(encoding="utf-8"))
    except YamlProblem as exc:
        return (), [Problem(str(path), exc.line, exc.column, exc.message)]
    except (OSError, UnicodeDecodeError) as exc:
        return (), [Problem(str(path), 1, 1, msg("desk.unreadable", error=exc))]
    desk, problems = validate(DeskFile, doc, str(path))
    if desk is None:
        return (), problems
    seen: set[str] = set()
    for index, reply in enumerate(desk.replies):
        if reply.title in seen:
            where = doc.value_at(("replies", index, "title"))
            problems.append(Problem(str(path), where.line, where.column,
                                    msg("desk.title_twice", title=repr(reply.title))))
        seen.add(reply.title)
    return (desk.replies if not problems else ()), problems
