"""A problem found in a flow folder, and the helpers that word it for a business owner.

Owns ``Problem`` (what ``svyaz check`` prints, in the compiler form
``file:line:col: severity: message``, in Russian or English), ``FlowLoadError`` and the
"did you mean" helper. It must not read files or know the flow language.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from flows.errors import SvyazError
from flows.messages import DEFAULT_LANG, NOTHING, Lang, Msg, msg

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    column: int
    text: Msg
    severity: Severity = "error"
    lang: Lang = DEFAULT_LANG

    @property
    def message(self) -> str:
        """The message in this problem's language."""
        return self.text.render(self.lang)

    def in_lang(self, lang: Lang) -> Problem:
        return dataclasses.replace(self, lang=lang)

    def __str__(self) -> str:
        severity = msg(f"severity.{self.severity}").render(self.lang)
        return f"{self.file}:{self.line}:{self.column}: {severity}: {self.message}"


class FlowLoadError(SvyazError):
    """The folder has errors; ``problems`` lists every one of them (and the warnings)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lang = errors[0].lang if errors else DEFAULT_LANG
        head = msg("load.failed", count=len(errors)).render(lang)
        super().__init__(head + "\n" + "\n".join(map(str, errors)))


def without_echoes(problems: Iterable[Problem]) -> list[Problem]:
    """The problems less a warning at the very place of an error (YAML's "31.02 is a
    number" note where the error already says so): one line per problem."""
    found = list(problems)
    errors = {(p.file, p.line, p.column) for p in found if p.severity == "error"}
    return [p for p in found
            if p.severity == "error" or (p.file, p.line, p.column) not in errors]


def did_you_mean(word: str, choices: Iterable[str]) -> Msg:
    """'; did you mean 'next'?' when a close choice exists, else nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return msg("hint.did_you_mean", word=close[0]) if close else NOTHING


def listing(names: Iterable[str], limit: int = 12) -> str:
    """'a, b, c' (at most ``limit``, then '…')."""
    items = sorted(names)
    text = ", ".join(items[:limit])
    return text + (", …" if len(items) > limit else "")
