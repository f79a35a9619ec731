"""``svyaz graph``: a picture of one flow (Mermaid text, or Graphviz DOT for SVG/PNG).

Owns what the picture shows: only the steps a conversation can reach (from the flow's start
and its trigger entries), every edge labelled with why it is taken, the triggers that enter
the flow (words, buttons, links, /start, reminders) and where the customer leaves the bot
(a hand-off to an operator, another flow called). Pure text; the command writes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from flows import graph
from flows.model import ByValue, CompiledFlow, CompiledStep, Goto, Rules, Trigger

OPERATOR = "operator"  # the node of a hand-off


def edges(flow: CompiledFlow, name: str) -> Iterator[tuple[str, str]]:
    """(target, label) for every way step ``name`` can go; every edge has a label."""
    step = flow.steps[name]
    yield from ((r.if_past, "reminder too late") for r in step.remind if r.if_past)
    if step.handoff is not None:
        return  # the bot stops here until an operator or a command brings it back
    yield from _next_edges(step)
    q = step.question
    if q and q.on_fail:
        yield q.on_fail, "too many tries"
    if q and q.when_empty:
        yield q.when_empty, "nothing to choose"
    if step.http and step.http.on_error:
        yield step.http.on_error, "HTTP error"
    after = graph.following(flow, name)
    if after and graph.falls_through(step) and not _every_answer_goes(step):
        yield after, "answer" if q else "after the call" if step.call or step.http else "next"


def _every_answer_goes(step: CompiledStep) -> bool:
    """A 'next' by answer that names every button: nothing falls through to the next step."""
    q, nxt = step.question, step.next
    if q is None or not isinstance(nxt, ByValue):
        return False
    if q.kind == "yesno":
        return {"yes", "no"} <= set(nxt.cases)
    return q.kind == "choice" and q.options_from is None and {o.id for o in q.options} <= set(
        nxt.cases)


def _next_edges(step: CompiledStep) -> Iterator[tuple[str, str]]:
    nxt = step.next
    if isinstance(nxt, Goto):
        yield nxt.target, "next"
    elif isinstance(nxt, ByValue):
        yield from ((target, value) for value, target in nxt.cases.items())
        if nxt.default:
            yield nxt.default, "other"
    elif isinstance(nxt, Rules):
        for cond, target in nxt.rules:
            yield target, "else" if cond is None else "if " + getattr(cond, "source", "…")
            if cond is None:
                break  # rules after an 'else' are never tried


def trigger_label(trigger: Trigger) -> str:
    if trigger.kind == "command":
        return "/start"
    if trigger.kind == "timer":
        return "reminder"
    return f"{trigger.kind}: {', '.join(trigger.values)}"


def summary(step: CompiledStep) -> str:
    """A few words on what a step does: its question, message, call or sub-flow."""
    if step.question is not None:
        text = _text_of(step.question.prompt)
        return f"{step.question.kind}: {text}" if step.question.kind != "text" else text
    if step.say is not None:
        return _text_of(step.say)
    if step.handoff is not None:
        return f"handoff: {_text_of(step.handoff)}"
    if step.http is not None:
        return f"HTTP {step.http.method} {_text_of(step.http.url)}"
    if step.call is not None:
        return f"call flow {step.call}"
    return ""


def _text_of(text: object, limit: int = 40) -> str:
    source = getattr(text, "source", None) or getattr(text, "value", None) or ""
    source = " ".join(str(source).split())
    return source if len(source) <= limit else source[: limit - 1] + "…"


def _entries(flow: CompiledFlow) -> list[tuple[str, str]]:
    """(label, step) of each way into the flow: its triggers, else its start."""
    found = [(trigger_label(t), t.step or flow.start) for t in flow.triggers]
    if not any(step == flow.start for _, step in found):
        found.append((flow.title or flow.name, flow.start))
    return found


def _drawn(flow: CompiledFlow) -> list[str]:
    seen = graph.reachable(flow)
    return [name for name in flow.steps if name in seen]


def mermaid(flow: CompiledFlow) -> str:
    """Mermaid ``flowchart`` text of a flow's reachable steps and transitions."""
    names = _drawn(flow)
    ids = {name: f"s{i}" for i, name in enumerate(names)}
    lines = ["flowchart TD"]
    for i, (label, entry) in enumerate(_entries(flow)):
        node = "start" if i == 0 else f"start{i}"
        lines.append(f"  {node}(({_mm(label)})) -->|{'start' if i == 0 else 'enter'}| "
                     f"{ids[entry]}")
    for name in names:
        step = flow.steps[name]
        label = _mm(name) + (f"<br/>{_mm(summary(step))}" if summary(step) else "")
        shape = ("{{", "}}") if step.question else ("[[", "]]") if step.call else ('["', '"]')
        if shape[0] != '["':
            label = f'"{label}"'
        lines.append(f"  {ids[name]}{shape[0]}{label}{shape[1]}")
        for target, edge in edges(flow, name):
            lines.append(f"  {ids[name]} -->|{_mm(edge)}| {ids.get(target, 'missing')}")
        if step.call is not None:
            callee = f"flow_{_callees(flow).index(step.call)}"
            lines.append(f"  {ids[name]} -.->|call| {callee}[/flow {_mm(step.call)}/]")
        if step.handoff is not None:
            lines.append(f"  {ids[name]} -->|hand-off| {OPERATOR}[/operator/]")
        elif step.end:
            lines.append(f"  {ids[name]} -->|end| stop((end))")
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    """A DOT string (Graphviz reads UTF-8, not JSON's \\u escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _callees(flow: CompiledFlow) -> list[str]:
    return sorted({st.call for st in flow.steps.values() if st.call})


def _mm(text: str) -> str:
    """Text safe inside a Mermaid label."""
    for bad, good in (('"', "#quot;"), ("|", "#124;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(bad, good)
    return text


def dot(flow: CompiledFlow) -> str:
    """Graphviz DOT text of the same picture (for SVG/PNG)."""
    lines = [f"digraph {_q(flow.name)} {{", '  node [fontname="sans-serif"];']
    for i, (label, entry) in enumerate(_entries(flow)):
        lines.append(f'  "__start{i}" [shape=circle, label={_q(label)}];')
        lines.append(f'  "__start{i}" -> {_q(entry)} [label="enter"];')
    for name in _drawn(flow):
        step = flow.steps[name]
        shape = "hexagon" if step.question else "box3d" if step.call else "box"
        label = name + (f"\n{summary(step)}" if summary(step) else "")
        lines.append(f"  {_q(name)} [shape={shape}, label={_q(label)}];")
        for target, edge in edges(flow, name):
            lines.append(
                f"  {_q(name)} -> {_q(target)} [label={_q(edge)}];"
            )
        if step.call is not None:
            lines.append(f'  {_q(name)} -> {_q("flow " + step.call)} '
                         f'[label="call", style=dashed];')
            lines.append(f'  {_q("flow " + step.call)} [shape=parallelogram];')
        if step.handoff is not None:
            lines.append(f'  {_q(name)} -> "__operator" [label="hand-off"];')
        elif step.end:
            lines.append(f'  {_q(name)} -> "__end" [label="end"];')
    lines.append('  "__end" [shape=doublecircle, label="end"];')
    lines.append('  "__operator" [shape=parallelogram, label="operator"];')
    return "\n".join(lines) + "\n}\n"
