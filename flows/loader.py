"""Loading a folder of flows: every problem at once, then one compiled ``FlowSet``.

Owns the stages YAML text -> data with positions (``flows.yamlload``) -> models
(``flows.validation``) -> compiled flows (``flows.compiler``) -> checks across flows and
warnings (``flows.graph``), and the public ``load``/``check``. Reads the folder's files (the
only I/O in ``flows/``); ``*.test.yaml`` files are conversation tests and are skipped.

It must not run flows (``flows.engine`` does).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flows import graph, settings_use
from flows import schema as s
from flows.compile_base import where_of
from flows.compile_question import ANSWER_NAMES, ANSWER_TEXTS
from flows.compiler import Compiler
from flows.messages import DEFAULT_LANG, Lang, Msg, msg
from flows.model import CompiledFlow, Entry, FlowSet
from flows.problems import FlowLoadError, Problem, did_you_mean, listing, without_echoes
from flows.validation import validate
from flows.words import normalize
from flows.yamlload import Document, PathKey, YamlProblem, parse

__all__ = ["FlowLoadError", "Problem", "check", "load"]


# Names every template may read besides the dialogue's variables.
RESERVED = frozenset({"today", "now", "env", "consent", "value", "range", "dict"})
_HELPERS = frozenset({"range", "dict"})  # template helpers: never a variable to suggest


@dataclass(frozen=True, slots=True)
class _Loaded:
    flow: CompiledFlow
    doc: Document
    uses: tuple[tuple[PathKey, frozenset[str]], ...] = ()
    whole: bool = True  # False: built from what was left after dropping wrong keys


def load(
    folder: str | Path,
    *,
    timezone: str = "Europe/Moscow",
    environ: Mapping[str, str] | None = None,
    channels: Collection[str] | None = None,
    send_only: Collection[str] = (),
    lang: Lang = DEFAULT_LANG,
) -> FlowSet:
    """Load and compile every flow of ``folder``; raises ``FlowLoadError`` listing all errors.

    ``environ`` overrides the ``env:`` defaults of ``_bot.yaml`` (only keys declared there);
    ``channels``: the channel names flows may name (None: any); ``send_only``: those of
    them that carry notices only (a dialogue cannot move there); ``lang``: the language of
    the problems' messages.
    """
    flows, problems = check(folder, timezone=timezone, environ=environ, channels=channels,
                            send_only=send_only, lang=lang)
    if flows is None:
        raise FlowLoadError(problems)
    return flows


def check(
    folder: str | Path,
    *,
    timezone: str = "Europe/Moscow",
    environ: Mapping[str, str] | None = None,
    channels: Collection[str] | None = None,
    send_only: Collection[str] = (),
    lang: Lang = DEFAULT_LANG,
) -> tuple[FlowSet | None, tuple[Problem, ...]]:
    """Every error and warning of ``folder``, worded in ``lang``; the ``FlowSet`` is None
    when there is an error."""
    root = Path(folder)
    if not root.is_dir():
        return None, (Problem(str(root), 1, 1, msg("folder.missing"), lang=lang),)
    problems: list[Problem] = []
    settings = _settings(root, problems)
    loaded, broken = _load_all(root, problems, _Channels(channels, frozenset(send_only)))
    if not loaded and not problems:
        problems.append(Problem(str(root), 1, 1, msg("folder.empty")))
    # A broken file says nothing about the others: no "flow 'x' does not exist" for its
    # flows, no checks that need every flow (variables, consent) until it is fixed.
    problems.extend(_cross_checks(loaded, settings, broken))
    complete = not broken and all(item.whole for item in loaded.values())
    problems.extend(_warnings(loaded, frozenset(settings.model.constants()), complete=complete))
    problems.extend(settings_use.check(((i.flow, i.doc) for i in loaded.values()),
                                       settings.model))
    problems.extend(settings_use.invite_texts(settings.model, settings.file, settings.doc))
    problems = sorted((p.in_lang(lang) for p in without_echoes(problems)),
                      key=lambda p: (p.severity != "error", p.file, p.line, p.column))
    if any(p.severity == "error" for p in problems):
        return None, tuple(problems)
    flows = {name: item.flow for name, item in loaded.items()}
    warnings = tuple(p for p in problems if p.severity == "warning")
    return _flow_set(flows, settings.model, timezone, warnings, environ or {}), tuple(problems)


@dataclass(frozen=True, slots=True)
class _Channels:
    names: Collection[str] | None
    send_only: frozenset[str]


def _load_all(
    root: Path, problems: list[Problem], channels: _Channels
) -> tuple[dict[str, _Loaded], set[str]]:
    """The flows of the folder's files, and the names of flows whose files could not be
    read at all."""
    loaded: dict[str, _Loaded] = {}
    broken: set[str] = set()
    for path in _flow_files(root):
        item = _load_file(path, problems, channels)
        if item is None:
            broken.update(_names_of(path))
            continue
        if item.flow.name in loaded:
            other, name = loaded[item.flow.name].flow.file, item.flow.name
            problems.append(Problem(item.flow.file, 1, 1,
                                    msg("flow.name_taken", name=name, other=other)))
            continue
        loaded[item.flow.name] = item
    return loaded, broken


def _flow_files(root: Path) -> list[Path]:
    files = [*root.glob("*.yaml"), *root.glob("*.yml")]
    return sorted(
        p
        for p in files
        if not p.name.endswith((".test.yaml", ".test.yml")) and not p.name.startswith("_")
    )


def _read(path: Path, problems: list[Problem]) -> Document | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(str(path), 1, 1, msg("file.not_utf8", reason=exc.reason))
        )
        return None
    try:
        doc = parse(text)
    except YamlProblem as exc:
        problems.append(Problem(str(path), exc.line, exc.column, exc.message))
        return None
    problems.extend(Problem(str(path), n.line, n.column, n.message, "warning") for n in doc.notes)
    return doc


def _load_file(path: Path, problems: list[Problem], channels: _Channels) -> _Loaded | None:
    doc = _read(path, problems)
    if doc is None:
        return None
    model, found = validate(s.Flow, doc, str(path), salvage=True)
    problems.extend(found)
    if model is None:
        return None
    names = None if channels.names is None else frozenset(channels.names)
    compiler = Compiler(str(path), doc, channels=names, send_only=channels.send_only)
    flow = compiler.flow(model, path.stem)
    problems.extend(compiler.problems)
    return _Loaded(flow, doc, tuple(compiler.uses), whole=not found)


def _names_of(path: Path) -> set[str]:
    """The names a broken flow file likely has: its file name and a 'flow:' line."""
    names = {path.stem}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return names
    found = re.search(r"^flow:\s*['\"]?([A-Za-z_][A-Za-z0-9_-]*)", text, re.M)
    return names | ({found.group(1)} if found else set())


@dataclass(frozen=True, slots=True)
class _Settings:
    model: s.Settings
    file: str
    doc: Document | None = None

    def problem(self, path: PathKey, message: Msg) -> Problem:
        where = self.doc.value_at(path) if self.doc else None
        return Problem(self.file, where.line if where else 1, where.column if where else 1, message)


def _settings(root: Path, problems: list[Problem]) -> _Settings:
    path = root / s.SETTINGS_FILE
    if not path.exists():
        return _Settings(s.Settings(), str(path))
    doc = _read(path, problems)
    if doc is None:
        return _Settings(s.Settings(), str(path))
    model, found = validate(s.Settings, doc, str(path), salvage=True)
    problems.extend(found)
    return _Settings(model or s.Settings(), str(path), doc)


def _cross_checks(
    loaded: Mapping[str, _Loaded], settings: _Settings, broken: Collection[str]
) -> Iterable[Problem]:
    """Flows named by ``call``, ``remind`` and ``menu`` exist (or are in a ``broken`` file,
    already reported)."""
    names = list(loaded)
    known = {*loaded, *broken}
    for item in loaded.values():
        for step in item.flow.steps.values():
            path = ("steps", step.name)
            if step.call is not None and step.call not in known:
                yield _missing_flow(item, (*path, "call"), step.call, names)
            for i, reminder in enumerate(step.remind):
                if reminder.flow not in known:
                    where = item.doc.value_at((*path, "remind", i, "flow"))
                    yield Problem(item.flow.file, where.line, where.column, msg(
                        "flow.reminder_missing", step=step.name, flow=reminder.flow,
                        hint=did_you_mean(reminder.flow, names), flows=listing(names)))
    menu = settings.model.menu
    if menu is not None and menu not in known:
        yield settings.problem(("menu",), msg("flow.menu_missing", flow=menu,
                                              hint=did_you_mean(menu, names),
                                              flows=listing(names)))


def _missing_flow(item: _Loaded, path: tuple[str, ...], flow: str, names: list[str]) -> Problem:
    where = item.doc.value_at(path)
    return Problem(item.flow.file, where.line, where.column, msg(
        "flow.call_missing", step=path[1], flow=flow, hint=did_you_mean(flow, names),
        flows=listing(names)))


def _defined(loaded: Mapping[str, _Loaded]) -> set[str]:
    """Every variable some flow saves, sets or declares (``vars:``, ``expects:``), or a
    reminder passes (its ``vars:``)."""
    names: set[str] = set(RESERVED)
    for item in loaded.values():
        names.update(item.flow.defaults)
        names.update(_declared(item.doc.data))
        for step in item.flow.steps.values():
            names.update(name for name, _ in step.set)
            if step.question and step.question.save:
                names.add(step.question.save)
            if step.http and step.http.save:
                names.add(step.http.save)
    return names


def _declared(data: object) -> Iterable[str]:
    """``expects:`` of a flow file and the ``vars:`` keys of its reminders (validated
    already: only their names are read here)."""
    if not isinstance(data, dict):
        return
    yield from (name for name in data.get("expects") or () if isinstance(name, str))
    steps = data.get("steps")
    for step in steps.values() if isinstance(steps, dict) else ():
        if not isinstance(step, dict):
            continue
        # what a step saves, as written (a step with a wrong key is dropped from the model)
        http = step.get("http")
        for saved in (step.get("save"), http.get("save") if isinstance(http, dict) else None):
            if isinstance(saved, str):
                yield saved
        if isinstance(step.get("set"), dict):
            yield from step["set"]
        reminders = step.get("remind")
        for remind in reminders if isinstance(reminders, list) else [reminders]:
            if isinstance(remind, dict) and isinstance(remind.get("vars"), dict):
                yield from remind["vars"]


def _unknown_variables(
    loaded: Mapping[str, _Loaded], constants: frozenset[str]
) -> Iterable[Problem]:
    """A template naming a variable nothing defines is an error: at run time it would fail
    in front of a customer. The message says which line declares a passed-in one."""
    known = _defined(loaded) | constants  # (and the ``vars:`` of ``_bot.yaml``)
    for item in loaded.values():
        for path, names in item.uses:
            # (a failure text also reads ``answer``: a misspelt one is suggested there)
            choices = known - _HELPERS | (ANSWER_NAMES if path[-1] in ANSWER_TEXTS else set())
            for name in sorted(names - known):
                where = item.doc.value_at(path)
                yield Problem(item.flow.file, where.line, where.column, msg(
                    "variable.unknown", where=where_of(path), name=name,
                    hint=did_you_mean(name, choices) or msg("hint.period"),
                    file=Path(item.flow.file).name))


def _profile_without_consent(loaded: Mapping[str, _Loaded]) -> Iterable[Problem]:
    steps = [(item, st) for item in loaded.values() for st in item.flow.steps.values()]
    if any(st.question and st.question.consent for _, st in steps):
        return
    for item, st in steps:
        if st.question and st.question.profile:
            where = item.doc.value_at(("steps", st.name, "profile"))
            yield Problem(item.flow.file, where.line, where.column, msg(
                "profile.no_consent", step=st.name, field=st.question.profile), "warning")


def _warnings(loaded: Mapping[str, _Loaded], constants: frozenset[str], *,
              complete: bool) -> Iterable[Problem]:
    """Checks that need every flow run only when every file was read without a mistake
    (``complete``); the step graph is judged only in files read without one."""
    if complete:
        yield from _unknown_variables(loaded, constants)
        yield from _profile_without_consent(loaded)
    for item in (item for item in loaded.values() if item.whole):
        flow = item.flow
        seen = graph.reachable(flow)
        for name in flow.steps:
            if name not in seen:
                where = item.doc.key_at(("steps", name))
                yield Problem(flow.file, where.line, where.column,
                              msg("step.unreached", step=name), "warning")
        for name in graph.silent_loops(flow):
            where = item.doc.key_at(("steps", name))
            yield Problem(flow.file, where.line, where.column,
                          msg("step.silent_loop", step=name), "warning")


def _flow_set(
    flows: dict[str, CompiledFlow],
    settings: s.Settings,
    timezone: str,
    warnings: tuple[Problem, ...],
    environ: Mapping[str, str],
) -> FlowSet:
    on_start: Entry | None = None
    keywords: list[tuple[str, Entry]] = []
    buttons: dict[str, Entry] = {}
    payloads: dict[str, Entry] = {}
    for flow in flows.values():
        for trig in flow.triggers:
            entry = Entry(flow.name, trig.step)
            if trig.kind == "command" and on_start is None:
                on_start = entry
            elif trig.kind == "text":
                keywords.extend((normalize(v), entry) for v in trig.values if normalize(v))
            elif trig.kind == "button":
                buttons.update(dict.fromkeys(trig.values, entry))
            elif trig.kind == "payload":
                payloads.update(dict.fromkeys(trig.values, entry))
    menu = settings.menu or (on_start.flow if on_start else next(iter(flows)))
    env = {k: environ.get(k, v) for k, v in settings.env.items()}
    keywords.sort(key=lambda kv: -len(kv[0]))  # longest phrase wins
    return FlowSet(
        flows=flows,
        timezone=timezone,
        warnings=warnings,
        menu=menu,
        commands=settings.commands.by_word(),
        texts=settings.texts,
        env=env,
        on_start=on_start or Entry(menu),
        keywords=tuple(keywords),
        buttons=buttons,
        payloads=payloads,
        constants=settings.constants(),
        working=settings.working.value() if settings.working else None,
    )
