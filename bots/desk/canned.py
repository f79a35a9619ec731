"""The desk's settings the owner writes in ``_desk.yaml`` in the flows folder
(``SVYAZ_FLOWS``): canned replies, which an operator inserts with one click, and how long a
customer waits for a person (``bots.desk.waiting``).

    replies:
      - title: Часы работы
        text: Мы работаем ежедневно с 10:00 до 20:00.
    waiting:
      answer_within: 15m  # nobody took it by then: the customer hears when to expect an answer
      release_after: 24h  # nobody took it by then: back to the bot

Read with the flows' own YAML stage (``flows.yamlload``: positions, no yes/no surprises) and
checked by ``svyaz check`` with the same ``file:line:col`` messages. This module must not
send anything; the desk's page offers the texts and the operator sends them.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bots.desk.waiting import Waiting
from flows import durations
from flows.messages import msg
from flows.problems import Problem
from flows.validation import validate
from flows.yamlload import YamlProblem, parse

DESK_FILE = "_desk.yaml"


class CannedReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=60, description="the button's label")
    text: str = Field(min_length=1, max_length=4000, description="what the customer gets")


def _duration(value: str) -> str:
    found = durations.parse(value)
    if found is None or found <= timedelta(0):
        raise ValueError(msg("desk.duration", found=value, examples=durations.EXAMPLES))
    return value


Duration = Annotated[str, AfterValidator(_duration)]


class WaitingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    answer_within: Duration = Field(
        default="15m", description="nobody took the conversation by then: the customer is "
                                   "told when to expect an answer")
    release_after: Duration = Field(
        default="24h", description="nobody took the conversation by then: back to the bot")

    def value(self) -> Waiting:
        return Waiting(answer_within=_seconds(self.answer_within),
                       release_after=_seconds(self.release_after))


def _seconds(text: str) -> float:
    found = durations.parse(text)
    return found.total_seconds() if found is not None else 0.0


class DeskFile(BaseModel):
    """``_desk.yaml``: the desk's settings the owner writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    replies: tuple[CannedReply, ...] = ()
    waiting: WaitingFile = WaitingFile()


def load_canned(folder: Path) -> tuple[tuple[CannedReply, ...], list[Problem]]:
    """The folder's canned replies and the problems of its ``_desk.yaml`` (none: no file)."""
    desk, problems = load_desk(folder)
    return (desk.replies if not problems else ()), problems


def waiting_of(folder: Path) -> Waiting:
    """How long hand-offs wait, as ``_desk.yaml`` says (the defaults while it has mistakes:
    ``svyaz check`` names them)."""
    desk, problems = load_desk(folder)
    return desk.waiting.value() if not problems else Waiting()


def load_desk(folder: Path) -> tuple[DeskFile, list[Problem]]:
    """The folder's ``_desk.yaml`` and its problems (no file: the defaults); read again only
    when the file changes (each conversation page and each sweep asks)."""
    path = folder / DESK_FILE
    try:
        seen = path.stat()
    except OSError:
        return DeskFile(), []
    desk, problems = _load(path, seen.st_mtime_ns, seen.st_size)
    return desk, list(problems)  # the caller's own list: the cached one stays


@functools.lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int, size: int) -> tuple[DeskFile, list[Problem]]:
    try:
        doc = parse(path.read_text(encoding="utf-8"))
    except YamlProblem as exc:
        return DeskFile(), [Problem(str(path), exc.line, exc.column, exc.message)]
    except (OSError, UnicodeDecodeError) as exc:
        return DeskFile(), [Problem(str(path), 1, 1, msg("desk.unreadable", error=exc))]
    desk, problems = validate(DeskFile, doc, str(path))
    if desk is None:
        return DeskFile(), problems
    seen: set[str] = set()
    for index, reply in enumerate(desk.replies):
        if reply.title in seen:
            where = doc.value_at(("replies", index, "title"))
            problems.append(Problem(str(path), where.line, where.column,
                                    msg("desk.title_twice", title=repr(reply.title))))
        seen.add(reply.title)
    waiting = desk.waiting.value()
    if waiting.answer_within >= waiting.release_after:
        where = doc.value_at(("waiting", "answer_within"))
        problems.append(Problem(str(path), where.line, where.column, msg(
            "desk.waiting_order", within=desk.waiting.answer_within,
            after=desk.waiting.release_after)))
    return desk, problems
