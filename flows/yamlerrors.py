"""What an owner's YAML mistake means, in the owner's words, at the culprit's line.

Owns the translation of PyYAML's scanner and parser errors ("mapping values are not allowed
here") into a ``Msg`` and a position: a tab, a text with ': ' or a leading '? ' that YAML
splits, a line indented more or less than its neighbours, a key without its colon, an
unclosed quote. PyYAML often notices a mistake one line late; here the position is moved
back to the line the owner must change. Pure: it is given the text and the error.
"""

from __future__ import annotations

import re

import yaml

from flows.messages import Msg, msg


def explain(text: str, exc: yaml.MarkedYAMLError) -> tuple[int, int, Msg]:
    """(line, column, message) of a YAML syntax error, pointing at the culprit."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    lines = text.splitlines()
    problem = exc.problem or ""
    if "'\\t'" in problem or "tab" in problem:
        return _tab(lines, line, column)
    if "mapping values are not allowed" in problem:
        return _colon(lines, line, column)
    if "mapping keys are not allowed" in problem:
        return line, column, msg("yaml.question_mark")
    if problem.endswith("but found '<scalar>'") and column > _indent(lines, line):
        return line, column, msg("yaml.after_quote")
    if "could not find expected ':'" in problem and exc.context_mark is not None:
        key = exc.context_mark
        return key.line + 1, key.column + 1, msg("yaml.no_key")
    if problem.startswith("expected <block end>") or "did not find expected" in problem:
        return line, _indent(lines, line), msg("yaml.indent", line=line)
    if "flow sequence" in (exc.context or "") or "flow mapping" in (exc.context or ""):
        start = exc.context_mark or mark
        if start is not None:
            return start.line + 1, start.column + 1, msg("yaml.bracket")
    if "quoted scalar" in (exc.context or "") and exc.context_mark is not None:
        start = exc.context_mark
        return start.line + 1, start.column + 1, msg("yaml.quote")
    detail = ", ".join(p for p in (exc.context, exc.problem) if p)
    return line, column, msg("yaml.syntax", detail=detail)


def _tab(lines: list[str], line: int, column: int) -> tuple[int, int, Msg]:
    """The first tab of the file (a tab in the indentation is the usual one)."""
    for number, source in enumerate(lines, 1):
        if "\t" in source:
            return number, source.index("\t") + 1, msg("yaml.tab")
    return line, column, msg("yaml.tab")


def _colon(lines: list[str], line: int, column: int) -> tuple[int, int, Msg]:
    """': ' where YAML did not expect a key: a text with ': ', or a line indented too far,
    or the line before lost its colon."""
    here = lines[line - 1] if 0 < line <= len(lines) else ""
    before = _previous(lines, line)
    if before is not None:
        prev = lines[before - 1]
        if _key_of(here) > _key_of(prev) and not prev.rstrip().endswith(":"):
            if ":" not in prev.strip() and not prev.strip().startswith("-"):
                return before, _indent_of(prev) + 1, msg("yaml.no_colon")
            return line, _indent_of(here) + 1, msg("yaml.indent_more", line=line)
        if _indent_of(here) == _indent_of(prev) and ":" not in prev:
            return before, _indent_of(prev) + 1, msg("yaml.no_colon")
    key = re.match(r"\s*(?:-\s+)?([^:#]+):\s", here)
    name = key.group(1).strip() if key else "say"
    return line, column, msg("yaml.colon_in_text", key=name)


def _previous(lines: list[str], line: int) -> int | None:
    for number in range(line - 1, 0, -1):
        if lines[number - 1].strip() and not lines[number - 1].lstrip().startswith("#"):
            return number
    return None


def _indent(lines: list[str], line: int) -> int:
    return _indent_of(lines[line - 1]) + 1 if 0 < line <= len(lines) else 1


def _key_of(source: str) -> int:
    """Where a line's key starts: its indentation and any list markers (``  - title:``)."""
    marker = re.match(r"[ ]*(?:-[ ]+)*", source)
    return len(marker.group(0)) if marker else 0


def _indent_of(source: str) -> int:
    return len(source) - len(source.lstrip(" "))
