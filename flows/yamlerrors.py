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
    found = (_first_char(exc, lines) or _opened(exc) or _unusual_indent(exc, lines, line)
             or _here(problem, lines, line, column))
    if found is not None:
        return found
    detail = ", ".join(p for p in (exc.context, exc.problem) if p)
    return line, column, msg("yaml.syntax", detail=detail)


def _opened(exc: yaml.MarkedYAMLError) -> tuple[int, int, Msg] | None:
    """A quote, a bracket or a key opened earlier and never finished: where it opened."""
    context, start = exc.context or "", exc.context_mark
    if start is None:
        return None
    if "quoted scalar" in context:
        return start.line + 1, start.column + 1, msg("yaml.quote")
    if "flow sequence" in context or "flow mapping" in context:
        return start.line + 1, start.column + 1, msg("yaml.bracket")
    if "could not find expected ':'" in (exc.problem or ""):
        return start.line + 1, start.column + 1, msg("yaml.no_key")
    return None


def _unusual_indent(exc: yaml.MarkedYAMLError, lines: list[str], line: int
                    ) -> tuple[int, int, Msg] | None:
    """YAML stops at the first line that fits no level; the culprit may be an earlier line
    that opened a level of its own (one key one space off): the line whose indentation no
    other line of the file shares, or an odd one where the other is even."""
    problem = exc.problem or ""
    if "expected '<document start>'" in problem:
        first = _previous(lines, line)
        if first is not None and _indent_of(lines[first - 1]) > 0:
            return first, 1, msg("yaml.indent", line=first)
    start = exc.context_mark
    if not problem.startswith("expected <block end>") or start is None or start.line + 1 == line:
        return None
    here = _indent_of(lines[line - 1])
    outer = _indent_of(lines[start.line]) if start.line < len(lines) else 0
    # The block just above (a step's keys one space too far) or the level YAML names.
    for culprit in (_deeper_block(lines, line, here, outer), start.line + 1):
        if culprit is None:
            continue
        opened = _indent_of(lines[culprit - 1]) if culprit <= len(lines) else 0
        if (not _shared(lines, opened) and _shared(lines, here)) or (opened % 2 > here % 2):
            return culprit, opened + 1, msg("yaml.indent", line=culprit)
    return None


def _deeper_block(lines: list[str], line: int, here: int, outer: int) -> int | None:
    """The first line of the block just above ``line`` when that block is indented deeper
    than ``line``, which is deeper than ``outer`` (so ``line`` fits no level)."""
    before = _previous(lines, line)
    if before is None or not outer < here < _indent_of(lines[before - 1]):
        return None
    level, first = _indent_of(lines[before - 1]), before
    while (up := _previous(lines, first)) is not None and _indent_of(lines[up - 1]) >= level:
        first = up
    return first


def _shared(lines: list[str], indent: int) -> bool:
    """More than one content line of the file starts at ``indent``."""
    content = [s for s in lines if s.strip() and not s.lstrip().startswith("#")]
    return sum(_indent_of(s) == indent for s in content) > 1


def _here(problem: str, lines: list[str], line: int, column: int
          ) -> tuple[int, int, Msg] | None:
    """A mistake on the line YAML stopped at: ': ' in a text, '? ', text after a quote,
    an indentation that matches no key above."""
    if "mapping values are not allowed" in problem:
        return _colon(lines, line, column)
    if "mapping keys are not allowed" in problem:
        return line, column, msg("yaml.question_mark")
    if problem.endswith("but found '<scalar>'") and column > _indent(lines, line):
        return line, column, msg("yaml.after_quote")
    if problem.startswith("expected <block end>") or "did not find expected" in problem:
        return line, _indent(lines, line), msg("yaml.indent", line=line)
    return None


# PyYAML's words when a plain text starts with a character YAML keeps for itself
_SPECIAL_START = ("cannot start any token", "while scanning an alias", "while scanning an anchor",
                  "while parsing a tag", "found undefined alias",
                  "could not determine a constructor for the tag")


def _first_char(exc: yaml.MarkedYAMLError, lines: list[str]) -> tuple[int, int, Msg] | None:
    """A text starting with @, %, `, *, & or ! (YAML reserves them): where, and the fix."""
    words = f"{exc.context or ''} {exc.problem or ''}"
    if not any(special in words for special in _SPECIAL_START):
        return None
    mark = exc.context_mark if "cannot start" not in words and exc.context_mark else (
        exc.problem_mark)
    if mark is None:
        return None
    source = lines[mark.line] if mark.line < len(lines) else ""
    char = source[mark.column:mark.column + 1] or "?"
    return mark.line + 1, mark.column + 1, msg("yaml.special_start", char=char)


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
