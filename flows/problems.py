"""A problem found in a flow folder, and the helpers that word it for a business owner.

Owns ``Problem`` (what ``svyaz check`` prints, in the compiler form
``file:line:col: severity: message``), ``FlowLoadError`` and the "did you mean" helper.
It must not read files or know the flow language.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from flows.errors import SvyazError

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    column: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class FlowLoadError(SvyazError):
    """The folder has errors; ``problems`` lists every one of them (and the warnings)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in flows:\n" + "\n".join(map(str, errors)))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' — did you mean 'next'?' when a close choice exists, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def listing(names: Iterable[str], limit: int = 12) -> str:
    """'a, b, c' (at most ``limit``, then '…')."""
    items = sorted(names)
    text = ", ".join(items[:limit])
    return text + (", …" if len(items) > limit else "")
