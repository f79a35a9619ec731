"""``svyaz check`` for conversation tests (``*.test.yaml``): their mistakes as problems.

Owns what can be wrong in a test file itself, with the same quality of message as a flow:
YAML and shape (unknown keys, a bad duration in ``later``), names that point nowhere
(``at: flow/step``, ``flow:``, ``timer:``) and a ``press`` of a button the bot did not offer
at that point (found by playing the test; whether the bot's answers match is
``svyaz test``'s business). Reads the test files, like the loader; otherwise pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flows import convtest, effects
from flows.messages import DEFAULT_LANG, Lang, Msg, msg
from flows.model import FlowSet
from flows.problems import Problem, did_you_mean, listing, without_echoes
from flows.validation import validate
from flows.yamlload import Document, PathKey, YamlProblem, parse


def check_tests(folder: str | Path, flows: FlowSet | None, *, lang: Lang = DEFAULT_LANG
                ) -> list[Problem]:
    """Every problem of the folder's test files; names are checked when ``flows`` loaded."""
    found = [p for path in convtest.conversation_files(folder) for p in _check_file(path, flows)]
    return [p.in_lang(lang) for p in without_echoes(found)]


def _check_file(path: Path, flows: FlowSet | None) -> list[Problem]:
    file = str(path)
    try:
        doc = parse(path.read_text(encoding="utf-8"))
    except YamlProblem as exc:
        return [Problem(file, exc.line, exc.column, exc.message)]
    except UnicodeDecodeError as exc:
        return [Problem(file, 1, 1, msg("file.not_utf8", reason=exc.reason))]
    problems = [Problem(file, n.line, n.column, n.message, "warning") for n in doc.notes]
    model, found = validate(convtest.TestFile, doc, file)
    problems.extend(found)
    if model is None or flows is None:
        return problems
    for where, text in _names(model, doc, flows):
        problems.append(Problem(file, where[0], where[1], text))
    if not any(p.severity == "error" for p in problems):
        for i, case in enumerate(model.tests):
            player = convtest.player(path, doc, i, case, model.now, flows)
            player.play()
            problems.extend(player.problems)
    return problems


def _names(model: convtest.TestFile, doc: Document, flows: FlowSet
           ) -> Iterator[tuple[tuple[int, int], Msg]]:
    names = list(flows.flows)
    for i, case in enumerate(model.tests):
        base: PathKey = ("tests", i)
        if case.now is not None and effects.local_time(case.now, effects.zone("UTC")) is None:
            yield _at(doc, (*base, "now")), msg("convtest.bad_now", found=case.now)
        for j, turn in enumerate(case.turns):
            here: PathKey = (*base, "turns", j)
            for key in ("flow", "timer"):
                name = getattr(turn, key)
                if name is not None and name not in flows.flows:
                    yield _at(doc, (*here, key)), msg(
                        "convtest.no_flow", flow=name, hint=did_you_mean(name, names),
                        flows=listing(names))
            if turn.at is not None and (wrong := _position(turn.at, flows)) is not None:
                yield _at(doc, (*here, "at")), wrong


def _position(at: str, flows: FlowSet) -> Msg | None:
    """What is wrong with an ``at:`` ('booking/day' or 'end'), or None."""
    if at == "end":
        return None
    flow, _, step = at.partition("/")
    if not step:
        return msg("convtest.at_form", found=at)
    if flow not in flows.flows:
        names = list(flows.flows)
        return msg("convtest.no_flow", flow=flow, hint=did_you_mean(flow, names),
                   flows=listing(names))
    steps = list(flows.flows[flow].steps)
    if step not in steps:
        return msg("convtest.no_step", flow=flow, step=step, hint=did_you_mean(step, steps),
                   steps=listing(steps, 30))
    return None


def _at(doc: Document, path: PathKey) -> tuple[int, int]:
    where = doc.value_at(path)
    return where.line, where.column
