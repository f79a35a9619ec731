"""How a conversation test's turn reads when it fails, and effects as a test writes them.

Owns the words of ``svyaz test``'s report (in Russian or English: "ответы бота не совпадают",
"ожидалось", "получено"), the one-line form of a reply and an event, and ``effect_data``:
an effect as the plain mapping a test file writes, with the matching rules (``fits``).
Pure; ``flows.convtest`` plays the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, assert_never

from flows import durations, effects, ladders
from flows.climb import Rung
from flows.messages import Lang, msg
from flows.types import (
    JSON,
    ButtonEvent,
    CallHttp,
    CancelReminder,
    Effect,
    Event,
    Handoff,
    LinkChannel,
    RecordConsent,
    ReminderPassed,
    Reply,
    SaveProfile,
    ScheduleReminder,
    SetTags,
    TextEvent,
)


def effect_data(effect: Effect, timezone: str) -> dict[str, JSON]:
    """An effect as the plain mapping a test writes (times in the business's time zone)."""
    match effect:
        case ScheduleReminder():
            at = effect.at.astimezone(effects.zone(timezone)).strftime("%Y-%m-%d %H:%M")
            data: dict[str, JSON] = {"flow": effect.flow, "key": effect.key, "at": at,
                                     "vars": dict(effect.vars), "critical": effect.critical}
            return {"remind": data | _ladder_data(effect)}
        case ReminderPassed():
            at = effect.at.astimezone(effects.zone(timezone)).strftime("%Y-%m-%d %H:%M")
            return {"reminder_passed": {"flow": effect.flow, "key": effect.key, "at": at}}
        case CancelReminder():
            return {"cancel_reminder": effect.key}
        case CallHttp():
            return {"http": {"method": effect.method, "url": effect.url, "json": effect.json}}
        case Handoff():
            return {"handoff": effect.reason}
        case LinkChannel():
            return {"link_channel": effect.target or "any"}
        case SaveProfile():
            return {"profile": {effect.field: effect.value}}
        case RecordConsent():
            return {"consent": _consent_data(effect)}
        case SetTags():
            return {"tag": list(effect.tags)}
        case _:
            assert_never(effect)


def _consent_data(effect: RecordConsent) -> dict[str, JSON]:
    data: dict[str, JSON] = {"granted": effect.granted, "version": effect.text_version}
    if effect.purpose != "personal_data":  # (tests written before purposes still pass)
        data["purpose"] = effect.purpose
    return data


def rung_data(rung: Rung, timezone: str) -> dict[str, JSON]:
    """A ladder's rung that went out, as a test writes it: ``{sms: {key, at}}`` (the rung's
    own name: no code per channel)."""
    at = rung.at.astimezone(effects.zone(timezone)).strftime("%Y-%m-%d %H:%M")
    return {rung.rung: {"key": rung.key, "at": at}}


def _ladder_data(effect: ScheduleReminder) -> dict[str, JSON]:
    """The ladder as a flow writes it (``escalate: null``: none), so a test can assert it."""
    ladder = effect.ladder
    if ladder is None:
        return {"escalate": None}
    return {"escalate": list(ladder.rungs), "until": ladder.until,
            "within": ladders.duration_text(ladder.within), "urgent": ladder.urgent}


def expected(wanted: Mapping[str, JSON]) -> Mapping[str, JSON]:
    """An expected effect with a reminder's ``within`` written as ``effect_data`` writes it
    (``120m`` -> ``2h``)."""
    remind = wanted.get("remind")
    if not isinstance(remind, dict) or not isinstance(within := remind.get("within"), str):
        return wanted
    parsed = durations.parse(within)
    if parsed is None:
        return wanted
    within = ladders.duration_text(parsed)
    return {**wanted, "remind": {**remind, "within": within}}


def fits(wanted: Any, got: Any) -> bool:
    """``wanted`` matches ``got``; mappings need only the keys the test writes."""
    if isinstance(wanted, Mapping) and isinstance(got, Mapping):
        return all(k in got and fits(v, got[k]) for k, v in wanted.items())
    if isinstance(wanted, list) and isinstance(got, list):
        return len(wanted) == len(got) and all(map(fits, wanted, got))
    return bool(wanted == got)


def squash(text: str) -> str:
    return " ".join(text.split())


def show(reply: Reply) -> str:
    buttons = " ".join(f"[{b.text}]" for b in reply.buttons)
    return f'"{squash(reply.text)}"' + (f" {buttons}" if buttons else "")


def inline(data: Mapping[str, JSON]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in data.items())


def diff(what: str, wanted: Sequence[str], got: Sequence[str], lang: Lang) -> str:
    """'  ответы бота не совпадают:' with the expected and the got lines (``what``: a
    catalogue key naming what differs)."""
    def say(key: str) -> str:
        return msg(key).render(lang)
    nothing = f"      ({say('convtest.nothing')})"
    lines = [f"  {msg('convtest.differ', what=msg(what)).render(lang)}",
             f"    {say('convtest.expected')}:"]
    lines += [f"      - {w}" for w in wanted] or [nothing]
    lines += [f"    {say('convtest.got')}:"] + ([f"      + {g}" for g in got] or [nothing])
    return "\n".join(lines)


def describe(event: Event, lang: Lang) -> str:
    """The customer's action of a turn, in a few words."""
    if isinstance(event, TextEvent):
        return msg("convtest.says", text=event.text).render(lang)
    if isinstance(event, ButtonEvent):
        return msg("convtest.presses", button=event.button).render(lang)
    return type(event).__name__
