"""bench/mutants.py's ``undecorate``: the scratch copy it makes of a module has plain decorators
applied after the def (so mutmut 3.8 mutates the body) and behaves as the original does."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.mutants import undecorate

SOURCE = '''\
import functools


def traced(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        CALLS.append(func.__name__)
        return func(*args, **kwargs)
    return wrapper


CALLS = []


@traced
def double(x):
    return 2 * x
class Box:
    def __init__(self, x):
        self.x = x

    @traced
    async def fetch(self, y):
        return self.x + y

    @functools.cache
    @traced
    def square(self):
        return self.x * self.x

    @property
    def half(self):
        return self.x / 2

    @classmethod
    def of(cls, x):
        return cls(x)

    @functools.lru_cache(maxsize=4)
    def cube(self):
        return self.x ** 3

    @traced
    def last(self):
        return -self.x'''


def _run(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "scratch"}
    exec(compile(source, "scratch.py", "exec"), namespace)  # noqa: S102 (our own test source)
    box = namespace["Box"].of(3)
    namespace["results"] = [namespace["double"](5), asyncio.run(box.fetch(4)), box.square(),
                            box.square(), box.half, box.cube(), box.last()]
    return namespace


def test_plain_decorators_are_applied_after_the_def() -> None:
    lines = undecorate(SOURCE).splitlines()
    assert "def double(x):" in lines
    assert "double = traced(double)" in lines
    assert "    async def fetch(self, y):" in lines
    assert "    fetch = traced(fetch)" in lines
    assert "    square = functools.cache(traced(square))" in lines
    assert "    last = traced(last)" in lines
    assert not [line for line in lines if line.lstrip().startswith(("@traced", "@functools.cache"))]


def test_property_classmethod_and_decorators_with_arguments_stay() -> None:
    lines = undecorate(SOURCE).splitlines()
    assert lines.count("    @property") == 1
    assert lines.count("    @classmethod") == 1
    assert lines.count("    @functools.lru_cache(maxsize=4)") == 1
    assert not [line for line in lines if "= property(" in line or "= classmethod(" in line]


def test_lines_keep_their_numbers_but_for_inserted_assignments() -> None:
    before, after = SOURCE.splitlines(), undecorate(SOURCE).splitlines()
    assert after.index("def double(x):") == before.index("def double(x):")
    # Each assignment takes the blank line after its function, but for `double` (no blank
    # line before `class Box`) and `last` (the end of the file): each adds a line.
    assert after.index("double = traced(double)") == before.index("class Box:")
    for text in ("    async def fetch(self, y):", "        return self.x * self.x",
                 "        return -self.x"):
        assert after.index(text) == before.index(text) + 1
    assert len(after) == len(before) + 2


def test_the_rewritten_code_behaves_the_same() -> None:
    original, rewritten = _run(SOURCE), _run(undecorate(SOURCE))
    assert rewritten["results"] == original["results"] == [10, 7, 9, 9, 1.5, 27, -3]
    # square is cached: traced once; every traced function keeps its name.
    assert rewritten["CALLS"] == original["CALLS"] == ["double", "fetch", "square", "last"]
    assert isinstance(rewritten["Box"].__dict__["half"], property)
    assert isinstance(rewritten["Box"].__dict__["of"], classmethod)
    assert rewritten["Box"].fetch.__name__ == "fetch"


def test_a_decorator_named_like_its_function_stays() -> None:
    source = ("def cache(f):\n    return f\n\n\n"
              "class A:\n    @cache\n    def cache(self):\n        return 1\n")
    assert undecorate(source) == source

