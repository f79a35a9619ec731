"""The step graph of a compiled flow: where each step can go, and the warnings it shows.

Owns ``successors`` (also used by the engine's fall-through rule and by ``svyaz graph``),
reachability and the "loop without a question" check. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from flows.model import ByValue, CompiledFlow, CompiledStep, Goto, Rules


def following(flow: CompiledFlow, name: str) -> str | None:
    """The step written after ``name`` in the file (where a step without 'next' goes)."""
    names = list(flow.steps)
    index = names.index(name)
    return names[index + 1] if index + 1 < len(names) else None


def falls_through(step: CompiledStep) -> bool:
    """Can the step continue to the step written after it?"""
    nxt = step.next
    if step.end or isinstance(nxt, Goto):
        return False
    if isinstance(nxt, ByValue):
        return nxt.default is None
    if isinstance(nxt, Rules):
        return all(cond is not None for cond, _ in nxt.rules)
    return True


def successors(flow: CompiledFlow, name: str) -> Iterator[str]:
    """Every step ``name`` may lead to within its flow."""
    step = flow.steps[name]
    yield from _next_targets(step)
    if step.question and step.question.on_fail:
        yield step.question.on_fail
    if step.question and step.question.when_empty:
        yield step.question.when_empty
    yield from (r.if_past for r in step.remind if r.if_past)
    if step.http and step.http.on_error:
        yield step.http.on_error
    after = following(flow, name)
    if after and falls_through(step):
        yield after


def _next_targets(step: CompiledStep) -> Iterator[str]:
    nxt = step.next
    if isinstance(nxt, Goto):
        yield nxt.target
    elif isinstance(nxt, ByValue):
        yield from nxt.cases.values()
        if nxt.default:
            yield nxt.default
    elif isinstance(nxt, Rules):
        for cond, target in nxt.rules:
            yield target
            if cond is None:
                break  # rules after an 'else' are never tried


def reachable(flow: CompiledFlow) -> set[str]:
    todo = [flow.start, *(t.step for t in flow.triggers if t.step)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in flow.steps:
            continue
        seen.add(name)
        todo.extend(successors(flow, name))
    return seen


def silent_loops(flow: CompiledFlow) -> list[str]:
    """Steps on a cycle that never stops for the customer (an endless loop)."""
    quiet = {n for n, st in flow.steps.items() if not st.waits and st.call is None}
    looping: list[str] = []
    for name in quiet:
        todo = [s for s in successors(flow, name) if s in quiet]
        seen: set[str] = set()
        while todo:
            cur = todo.pop()
            if cur == name:
                looping.append(name)
                break
            if cur not in seen:
                seen.add(cur)
                todo.extend(s for s in successors(flow, cur) if s in quiet)
    return sorted(looping)
