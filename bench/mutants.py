"""Mutation score of chosen modules: ``./dev mutants flows/inputs.py [MODULE ...]``.

Owns ``TESTS``, the one place that says which test files guard which module, and the score
file ``bench/mutants.md``. mutmut makes small changes (mutants) to a module and runs the
module's tests against each; a mutant no test notices ("survived") is behaviour the tests do
not pin. Surviving mutants that cannot change behaviour are listed, each with its argument, in
``bench/mutants-equivalent.md``; the score leaves them out: killed / (all − equivalent).

Why a helper and not a ``[tool.mutmut]`` table: mutmut reads one set of settings per project,
from the pyproject.toml of its working directory, and mutates everything that names. A run
here needs the settings of the chosen modules only, so each run builds a scratch project under
``.mutmut/`` (our pyproject.toml plus a ``[tool.mutmut]`` table; tests/ and the data by
symlink; the chosen modules' packages as real directories of per-file symlinks, except the
chosen modules themselves) and drives mutmut's command line there. Each run starts afresh: a
verdict cached from before a test changed is worse than a slow run.

The chosen modules are copies, rewritten by ``undecorate``: mutmut 3.8 does not mutate a
decorated function (but for a lone ``@staticmethod``/``@classmethod``), and nearly every
Redis-touching method of storage/ is ``@guarded``. In the copy, ``@guarded def f`` becomes
``def f`` followed by ``f = guarded(f)`` — the same behaviour, and mutmut mutates the body.

Slow (a minute or more per module on two cores): run it by hand, not in CI. Not a test file.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".mutmut"
SCORES = ROOT / "bench" / "mutants.md"
EQUIVALENT = ROOT / "bench" / "mutants-equivalent.md"
MUTMUT = Path(sys.executable).with_name("mutmut")

# module -> the test files that pin its behaviour. Leave out tests that do their work at
# import time (tests/flows/test_examples.py plays every conversation while it is collected,
# before mutmut switches a mutant on): they would count as covering and could never kill.
TESTS: dict[str, tuple[str, ...]] = {
    "flows/inputs.py": ("tests/flows/test_inputs.py", "tests/flows/test_inputs_limits.py"),
    "flows/engine.py": (
        "tests/flows/test_engine.py",
        "tests/flows/test_engine_property.py",
        "tests/flows/test_steps.py",
    ),
    "flows/steps.py": (
        "tests/flows/test_steps.py",
        "tests/flows/test_engine.py",
        "tests/flows/test_engine_property.py",
    ),
    "storage/inbox.py": (
        "tests/storage/test_inbox.py",
        "tests/storage/test_intake.py",
        "tests/storage/test_state.py",
        "tests/storage/test_scripts.py",
    ),
    "storage/intake.py": (
        "tests/storage/test_intake.py",
        "tests/storage/test_refusals.py",
        "tests/storage/test_scripts.py",
    ),
    "storage/outbox.py": (
        "tests/storage/test_outbox.py",
        "tests/storage/test_state.py",
        "tests/storage/test_instance.py",
    ),
    "bots/delivery.py": ("tests/bots/test_delivery.py",),
    "storage/save.py": (
        "tests/storage/test_save.py",
        "tests/storage/test_state.py",
        "tests/storage/test_locks.py",
        "tests/storage/test_crash.py",
        "tests/storage/test_scripts.py",
    ),
    "storage/takeover.py": (
        "tests/storage/test_takeover.py",
        "tests/storage/test_instance.py",
        "tests/storage/test_state.py",
        "tests/storage/test_scripts.py",
    ),
    "storage/merge.py": (
        "tests/storage/test_merge.py",
        "tests/storage/test_identity.py",
        "tests/storage/test_history.py",
        "tests/storage/test_link_records.py",
    ),
    "storage/outbox_scripts.py": ("tests/storage/test_outbox.py", "tests/storage/test_scripts.py"),
    "storage/state.py": (
        "tests/storage/test_state.py",
        "tests/storage/test_save.py",
        "tests/storage/test_lease.py",
    ),
    "storage/locks.py": (
        "tests/storage/test_lease.py",
        "tests/storage/test_state.py",
        "tests/storage/test_locks.py",
        "tests/storage/test_intake.py",
        "tests/storage/test_scripts.py",
    ),
    "storage/identity.py": ("tests/storage/test_identity.py", "tests/storage/test_link_records.py"),
    "storage/accounts.py": ("tests/storage/test_identity.py", "tests/storage/test_link_records.py"),
}
# What the tests read besides the packages and tests/ (mutmut copies tests/ by itself).
DATA = ("flows_examples",)
GOAL = 90.0
_ROW = re.compile(r"^\| `(?P<module>[^`]+)` \|")
_NAME = re.compile(r"`([\w.]+__mutmut_\d+)`")


@dataclass(frozen=True, slots=True)
class Score:
    module: str
    status: Counter[str]
    survivors: tuple[str, ...]
    equivalent: frozenset[str]

    @property
    def killed(self) -> int:
        return self.status["killed"] + self.status["timeout"]

    @property
    def total(self) -> int:
        return sum(self.status.values())

    @property
    def percent(self) -> float:
        counted = self.total - len(self.equivalent & set(self.survivors))
        return 100.0 * self.killed / counted if counted else 100.0


def main(argv: list[str]) -> int:
    modules = [m.removeprefix("./") for m in argv]
    unknown = [m for m in modules if m not in TESTS]
    if not modules or unknown:
        known = ", ".join(TESTS)
        print(f"usage: ./dev mutants MODULE [MODULE ...]; modules with tests listed: {known}"
              + (f"\nunknown: {', '.join(unknown)} (add it to TESTS in bench/mutants.py)"
                 if unknown else ""), file=sys.stderr)
        return 2
    _prepare(modules)
    log = SCRATCH / "run.log"
    print(f"mutmut is running on {', '.join(modules)}; its output goes to {log}")
    with log.open("w") as out:
        done = subprocess.run([str(MUTMUT), "run"], cwd=SCRATCH, stdout=out, stderr=out)
    if done.returncode != 0:
        print(f"mutmut failed (exit {done.returncode}); see {log}", file=sys.stderr)
        return 1
    scores = [_score(m, _results()) for m in modules]
    _report(scores)
    _record(scores)
    return 0 if all(s.percent >= GOAL for s in scores) else 1


def _prepare(modules: list[str]) -> None:
    """A scratch project: the packages and tests by symlink, the chosen modules rewritten by
    ``undecorate``, settings for these modules."""
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir()
    packages = sorted({m.split("/")[0] for m in modules})
    tests = sorted({t for m in modules for t in TESTS[m]})
    for name in ["tests", *DATA]:
        (SCRATCH / name).symlink_to(ROOT / name, target_is_directory=True)
    for package in packages:
        _mirror(package, set(modules))
    settings = (
        "\n[tool.mutmut]\n"
        f"source_paths = {json.dumps(packages)}\n"
        f"only_mutate = {json.dumps(modules)}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        f"also_copy = {json.dumps(list(DATA))}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n'
    )
    (SCRATCH / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + settings)


def _mirror(package: str, modules: set[str]) -> None:
    """``package`` as real directories (mutmut walks into those only) holding a symlink per
    file, but a rewritten copy of each module in ``modules``."""
    for path in sorted((ROOT / package).rglob("*")):
        name = path.relative_to(ROOT).as_posix()
        if "__pycache__" in path.parts or path.is_dir():
            continue
        target = SCRATCH / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name in modules:
            target.write_text(undecorate(path.read_text(encoding="utf-8")), encoding="utf-8")
        else:
            target.symlink_to(path)


# Decorators that make the name something other than a function (or mark it for a checker):
# left in place, and so is every function one of them decorates. mutmut itself handles a lone
# @staticmethod or @classmethod; it skips the rest.
KEPT_DECORATORS = frozenset({
    "property", "cached_property", "setter", "getter", "deleter", "staticmethod",
    "classmethod", "overload", "dataclass", "abstractmethod", "override", "final",
})
_Function = ast.FunctionDef | ast.AsyncFunctionDef


def undecorate(source: str) -> str:
    """``source`` with each function and method (of a top-level class) whose decorators are all
    plain names such as ``@guarded``, ``@asynccontextmanager``, ``@functools.cache`` written
    undecorated, followed by ``name = deco(name)`` at its indentation: the same behaviour, and
    mutmut mutates the body. Decorators with arguments and ``KEPT_DECORATORS`` stay, with the
    whole function. Lines inside a rewritten function keep their numbers (each decorator line
    becomes a comment); the assignment takes the blank line after the function when there is
    one, else it is inserted and the lines below move down by one."""
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for node in reversed(_rewritable(ast.parse(source))):
        indent = " " * node.col_offset
        names = [ast.unparse(d) for d in node.decorator_list]
        applied = "".join(f"{n}(" for n in names) + node.name + ")" * len(names)
        after = node.end_lineno or node.lineno  # index of the line after the function
        if after < len(lines) and not lines[after].strip():
            lines[after] = f"{indent}{node.name} = {applied}\n"
        else:
            lines.insert(after, f"{indent}{node.name} = {applied}\n")
        for name, decorator in zip(names, node.decorator_list, strict=True):
            lines[decorator.lineno - 1] = f"{indent}# @{name}: applied after the def\n"
    return "".join(lines)


def _rewritable(tree: ast.Module) -> list[_Function]:
    """The functions mutmut would mutate but for their decorators, in source order."""
    scopes = [tree.body, *(node.body for node in tree.body if isinstance(node, ast.ClassDef))]
    found = [node for body in scopes for node in body if isinstance(node, _Function)
             and node.decorator_list and all(_plain(d, node.name) for d in node.decorator_list)]
    return sorted(found, key=lambda node: node.lineno)


def _plain(decorator: ast.expr, function: str) -> bool:
    """A dotted name on one line, not kept, and not the function's own name (the def would
    shadow it before the assignment reads it)."""
    if decorator.lineno != decorator.end_lineno:
        return False
    parts: list[str] = []
    while isinstance(decorator, ast.Attribute):
        parts.append(decorator.attr)
        decorator = decorator.value
    if not isinstance(decorator, ast.Name):
        return False
    return decorator.id != function and (parts[0] if parts else decorator.id) not in KEPT_DECORATORS


def _results() -> dict[str, str]:
    """Every mutant's name and verdict, from ``mutmut results --all true``."""
    out = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=SCRATCH,
                         capture_output=True, text=True, check=True).stdout
    pairs = (line.strip().split(": ", 1) for line in out.splitlines() if ": " in line)
    return {name: status for name, status in pairs}  # noqa: C416 (pairs of two, by construction)


def _score(module: str, results: dict[str, str]) -> Score:
    prefix = module.removesuffix(".py").replace("/", ".") + "."
    mine = {n: s for n, s in results.items() if n.startswith(prefix)}
    survivors = tuple(sorted(n for n, s in mine.items() if s == "survived"))
    listed = frozenset(_NAME.findall(EQUIVALENT.read_text() if EQUIVALENT.exists() else ""))
    return Score(module, Counter(mine.values()), survivors,
                 frozenset(n for n in listed if n.startswith(prefix)))


def _report(scores: list[Score]) -> None:
    for s in scores:
        other = {k: v for k, v in s.status.items() if k not in ("killed", "timeout", "survived")}
        print(f"{s.module}: {s.killed} killed, {s.status['survived']} survived"
              f"{''.join(f', {v} {k}' for k, v in sorted(other.items()))} of {s.total}; "
              f"{len(s.equivalent & set(s.survivors))} of the survivors listed as equivalent; "
              f"score {s.percent:.1f} % (goal {GOAL:.0f} %)")
        open_ones = [n for n in s.survivors if n not in s.equivalent]
        stale = sorted(s.equivalent - set(s.survivors))
        if open_ones:
            print(f"  survivors not listed in {EQUIVALENT.name} (see one: "
                  f"cd .mutmut && ../.venv/bin/mutmut show NAME):")
            print("".join(f"    {n}\n" for n in open_ones), end="")
        if stale:
            print(f"  listed as equivalent but no longer surviving (the module changed? "
                  f"re-check {EQUIVALENT.name}): {', '.join(stale)}")


def _record(scores: list[Score]) -> None:
    """Replace these modules' rows of the table in bench/mutants.md; keep the others."""
    lines = SCORES.read_text().splitlines()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "?"
    rows = {s.module: (f"| `{s.module}` | {s.killed} | {s.status['survived']} | "
                       f"{len(s.equivalent & set(s.survivors))} | {s.total} | "
                       f"{s.percent:.1f} % | {date.today().isoformat()} | {commit} |")
            for s in scores}
    kept = []
    for line in lines:
        match = _ROW.match(line)
        kept.append(rows.pop(match["module"]) if match and match["module"] in rows else line)
    last_row = max(i for i, line in enumerate(kept) if line.startswith("|"))
    kept[last_row + 1:last_row + 1] = list(rows.values())
    SCORES.write_text("\n".join(kept) + "\n")
    print(f"scores written to {SCORES.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
