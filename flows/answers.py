"""The customer's answer to the current question: parse, check, retry, save, go on.

Owns what happens between "the customer wrote something while a question was open" and the
next step: typed parsing (``flows.inputs``), the owner's ``check``, retries with the
owner's text and the ``max_tries`` -> ``on_fail`` rule, consent recording and the refusal
to keep personal data without consent. Pure; no I/O.
"""

from __future__ import annotations

from flows import inputs, templates
from flows.model import Question
from flows.steps import Run, after, frame
from flows.types import JSON, RecordConsent, SaveProfile

PERSONAL_KINDS = ("phone", "email")


def answer(run: Run, q: Question, text: str, button: str | None = None) -> inputs.Invalid | None:
    """Answer the open question ``q``; an ``Invalid`` (nothing changed) when it does not fit."""
    flow, step = run.top()
    result = _read(run, q, text, button)
    if isinstance(result, inputs.Invalid):
        return result
    _keep(run, q, result.value)
    if run.move(after(flow, step, result.value, run.context)) == "end" and run.back():
        return None
    run.go()
    return None


def _read(run: Run, q: Question, text: str, button: str | None) -> inputs.Result:
    options = run.options(q)
    if button is not None:
        if q.kind == "yesno" and button in ("yes", "no"):
            return inputs.Parsed(button == "yes")
        if any(o.id == button for o in options):
            return _checked(run, q, button)
    result = inputs.parse(
        q.kind, text, now=run.now, options=options, minimum=q.minimum, maximum=q.maximum
    )
    if isinstance(result, inputs.Invalid):
        return result
    return _checked(run, q, result.value)


def _checked(run: Run, q: Question, value: JSON) -> inputs.Result:
    if q.check is None:
        return inputs.Parsed(value)
    try:
        fits = q.check.evaluate(run.context(value=value))
    except templates.TemplateRenderError:
        fits = False  # an answer the owner's check cannot even read does not fit it
    return inputs.Parsed(value) if fits else inputs.Invalid("")


def retry(run: Run, q: Question, reason: str) -> None:
    """A wrong answer: ask again with the owner's text, or give up to ``on_fail``."""
    here = run.stack[-1]
    tries = here.retries + 1
    if q.max_tries is not None and tries >= q.max_tries:
        run.stack[-1] = frame(here.flow, here.step)
        if q.on_fail is not None:
            run.move(q.on_fail)
            run.go()
        else:
            run.menu()
        return
    run.stack[-1] = frame(here.flow, here.step, tries)
    ctx = run.context()
    text = q.retry.render(ctx) if q.retry else (reason or run.flows.texts.retry)
    run.ask(q, text)


def _keep(run: Run, q: Question, value: JSON) -> None:
    """Store the answer: consent, variables and profile, minding 152-FZ."""
    if q.consent is not None:
        granted = value is True
        run.consent = granted
        run.effects.append(
            RecordConsent(granted=granted, text_version=q.consent.version, at=run.now)
        )
    personal = q.profile is not None or q.kind in PERSONAL_KINDS
    if personal and run.consent is False:
        return  # refused: neither the variable nor the profile keeps it
    if q.save is not None:
        run.vars[q.save] = value
    if q.profile is not None and run.consent is True and value is not None:
        run.effects.append(SaveProfile(field=q.profile, value=str(value)))
