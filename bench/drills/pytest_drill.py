"""Run a bounded drill test module at a larger scale and print its counts as ``name: value``.

The drill tests print lines such as ``max_forged_refused: 500/500``; this passes them through
and adds pytest's tally (passed, failed, xfailed: the known bugs still open).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from bench.common import ROOT, emit

_COUNT = re.compile(r"^([a-z_]+): (\S.*)$")
_TALLY = re.compile(r"(\d+) (passed|failed|xfailed|xpassed|error)")


def run_drill(module: str, scale: int) -> int:
    env = {**os.environ, "SVYAZ_DRILL_SCALE": str(scale)}
    argv = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
            "-o", "addopts=", "--timeout=900", module]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        for part in line.lstrip(".FxX").split("; "):
            if match := _COUNT.match(part.strip()):
                emit(match.group(1), match.group(2))
    name = module.rsplit("/", 1)[-1].removesuffix(".py")
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    for count, what in _TALLY.findall(tail):
        emit(f"{name}_{what}", int(count))
    if done.returncode not in (0,):
        print(done.stdout[-3000:], file=sys.stderr)
    return done.returncode
