"""The customer's answer to the current question: parse, check, retry, save, go on.

Owns what happens between "the customer wrote something while a question was open" and the
next step: typed parsing (``flows.inputs``), the owner's ``check``, retries with the
owner's texts and the ``max_tries`` -> ``on_fail`` rule, consent recording and the refusal
to keep personal data without consent. Pure; no I/O.

An answer fails in one of two ways, and each has its own text: it cannot be read as the
question's input («абв» for a date: ``Unreadable``, the step's ``unreadable`` or the parser's
Russian reason), or it was read and refused (``Refused``: by ``check`` or ``min``/``max``,
the step's ``retry``; by ``days: working``, its ``closed``). The texts see ``value`` and
``answer`` (the raw text). A step with ``retry`` and neither ``check`` nor ``unreadable``
says ``retry`` to both, as before ``unreadable`` existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from flows import inputs, ru, slots, templates, texts
from flows.model import Question
from flows.steps import Run, after, answer_key, frame, pose, question_day
from flows.types import JSON, Attachment, Happened, RecordConsent, SaveProfile

PERSONAL_KINDS = ("phone", "email")


@dataclass(frozen=True, slots=True)
class Unreadable:
    """The answer is not a value of the question's input; ``reason``: the parser's text."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The answer was read as ``value`` and refused; ``reason``: a default text ("" = none)."""

    text: str
    value: JSON
    reason: str = ""
    closed: bool = False  # refused as a day the business does not work (``days: working``)


Problem = Unreadable | Refused


def answer(run: Run, q: Question, text: str, button: str | None = None,
           files: Sequence[Attachment] = ()) -> Problem | None:
    """Answer the open question ``q``; the ``Problem`` (nothing changed) when it does not fit.
    ``files``: what the customer sent with ``text`` (a photo or file question keeps the id of
    the first that fits)."""
    flow, step = run.top()
    fitting = next((f for f in files if f.kind in inputs.FILE_KINDS.get(q.kind, ())), None)
    result = (_checked(run, q, text, fitting.id) if fitting is not None
              else _read(run, q, text, button))
    if isinstance(result, Unreadable | Refused):
        return result
    _keep(run, q, result.value)
    run.happened.append(_answered(run, q, result.value))
    if run.move(after(flow, step, result.value, run.context)) == "end" and run.back():
        return None
    run.go()
    return None


def _answered(run: Run, q: Question, value: JSON) -> Happened:
    """The funnel's fact of an answer: the option chosen, the time the step waited."""
    here = run.stack[-1]
    choice = answer_key(value) if q.kind in ("choice", "yesno") else None
    seconds = max(0, run.stamp - here.asked) if here.asked else None
    return Happened("answered", here.flow, here.step, choice, seconds)


def _read(run: Run, q: Question, text: str, button: str | None) -> inputs.Parsed | Problem:
    options = run.options(q)
    if button is not None:
        if q.kind == "yesno" and button in ("yes", "no"):
            return inputs.Parsed(button == "yes")
        if any(o.id == button for o in options):
            return _checked(run, q, text, button)
    result = inputs.parse(q.kind, text, now=run.now, options=options)
    if isinstance(result, inputs.Invalid):
        return Unreadable(text, result.reason)
    return _checked(run, q, text, result.value)


def _checked(run: Run, q: Question, text: str, value: JSON) -> inputs.Parsed | Problem:
    if q.kind == "number" and isinstance(value, int | float):
        bounded = inputs.parse_number(text, minimum=q.minimum, maximum=q.maximum)
        if isinstance(bounded, inputs.Invalid):
            return Refused(text, value, bounded.reason)
    if q.check is not None:
        clock: dict[str, JSON] = {}
        if q.kind == "time":  # ``value > now``: later today, any time on a later day
            clock["now"] = slots.time_check_clock(question_day(run, q), run.now)
        try:
            fits = q.check.evaluate(run.context(value=value, **clock))
        except templates.TemplateRenderError:
            fits = False  # an answer the owner's check cannot even read does not fit it
        if not fits:
            return Refused(text, value)
    closed = _closed(run, q, value)
    if closed is not None:
        return Refused(text, value, closed, closed=True)
    return inputs.Parsed(value)


def _closed(run: Run, q: Question, value: JSON) -> str | None:
    """Why a day or time is refused by ``days: working`` (None: it fits, or no limit)."""
    working = run.flows.working
    if q.days != "working" or working is None or not isinstance(value, str):
        return None
    if q.kind == "date":
        day = slots.as_date(value)
        if day is None or working.is_working_day(day):
            return None
        nearest = working.next_working_day(max(day, run.now.date()))
        return texts.CLOSED_DAY.format(day=ru.format_date_full(nearest)) if nearest else ""
    moment = _moment(run, q, value)
    if moment is None or working.is_open_at(moment):
        return None
    return texts.CLOSED_TIME.format(hours=working.describe())


def _moment(run: Run, q: Question, value: str) -> datetime | None:
    """A time or datetime answer as a local moment (a time is on ``for_day``, or today)."""
    try:
        if q.kind == "datetime":
            return datetime.fromisoformat(value)
        day = question_day(run, q) or run.now.date()
        return datetime.combine(day, time.fromisoformat(value))
    except ValueError:
        return None


def retry_text(run: Run, q: Question, problem: Problem | None) -> str:
    """What the customer hears after a wrong answer (see the module's docstring)."""
    if problem is None:
        return q.retry.render(run.context()) if q.retry else run.flows.texts.retry
    ctx = run.context(value=problem.text, answer=problem.text)
    if isinstance(problem, Unreadable):
        if q.unreadable is not None:
            return q.unreadable.render(ctx)
        if q.retry is not None and q.check is None:
            return q.retry.render(ctx)  # (before ``unreadable``, retry was the only text)
        return problem.reason or run.flows.texts.retry
    ctx["value"] = problem.value
    own = q.closed if problem.closed else q.retry
    if own is not None:
        return own.render(ctx)
    return problem.reason or run.flows.texts.retry


def retry(run: Run, q: Question, problem: Problem | None) -> None:
    """A wrong answer: ask again with the owner's text, or give up to ``on_fail``."""
    here = run.stack[-1]
    tries = here.retries + 1
    if q.max_tries is not None and tries >= q.max_tries:
        run.happened.append(Happened("failed", here.flow, here.step))
        run.stack[-1] = frame(here.flow, here.step)
        if q.on_fail is not None:
            run.move(q.on_fail)
            run.go()
        else:
            run.menu()
        return
    run.happened.append(Happened("retried", here.flow, here.step))
    run.stack[-1] = frame(here.flow, here.step, tries, here.asked)
    if pose(run, q, retry_text(run, q, problem)) is None:
        run.go()  # nothing left to choose from: the step ``when_empty`` names


def _keep(run: Run, q: Question, value: JSON) -> None:
    """Store the answer: consent, variables and profile, minding 152-FZ."""
    if q.consent is not None:
        granted = value is True
        if q.consent.purpose == "personal_data":  # (the ads answer keeps no personal data)
            run.consent = granted
        run.effects.append(RecordConsent(granted=granted, text_version=q.consent.version,
                                         at=run.now, purpose=q.consent.purpose))
    personal = q.profile is not None or q.kind in PERSONAL_KINDS
    if personal and run.consent is False:
        return  # refused: neither the variable nor the profile keeps it
    if q.save is not None:
        run.vars[q.save] = value
    if q.profile is not None and run.consent is True and value is not None:
        run.effects.append(SaveProfile(field=q.profile, value=str(value)))
