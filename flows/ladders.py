"""The escalation ladder of a critical reminder: what a flow may ask for, and how it reads.

Owns the meaning checks of ``remind: {critical, escalate, until, within, urgent}`` (``check``,
called by ``flows.compiler`` with its problem list) and the one line the tools print for a
reminder's urgency (``svyaz chat``, ``svyaz test``). Climbing the ladder — sending on a rung,
waiting, going on — is the runtime's; this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from flows import schema as s
from flows.compile_base import CompilerBase, where_of
from flows.messages import DEFAULT_LANG, Lang, msg
from flows.types import LADDER_WITHIN, MESSENGER, Ladder
from flows.yamlload import PathKey

# Keys that only mean something on a ladder (``escalate``).
LADDER_KEYS = ("within", "until", "urgent")
# The longest wait on one rung: past a week a notice is no longer news.
WITHIN_LIMIT = timedelta(days=7)
_UNITS = (("w", timedelta(weeks=1)), ("d", timedelta(days=1)), ("h", timedelta(hours=1)),
          ("m", timedelta(minutes=1)))


def check(
    c: CompilerBase, r: s.Remind, path: PathKey, within: timedelta | None
) -> Ladder | None:
    """The ladder of reminder ``r`` (None without ``escalate``); problems go to ``c``.

    ``within`` is ``r.within`` as a duration (the compiler parses durations).
    """
    if r.escalate is None:
        for key in LADDER_KEYS:
            if key in r.model_fields_set:
                c.error((*path, key), msg("ladder.key_without_ladder", where=where_of(path),
                                          key=key, messenger=MESSENGER), key=True)
        return None
    if not r.critical:
        c.error((*path, "escalate"), msg("ladder.not_critical", where=where_of(path)),
                key=True)
    if within is not None and within <= timedelta(0):
        c.error((*path, "within"), msg("ladder.within_zero", where=where_of(path),
                                       within=r.within))
    elif within is not None and within > WITHIN_LIMIT:
        c.error((*path, "within"), msg("ladder.within_too_long", where=where_of(path),
                                       within=r.within))
    return Ladder(
        rungs=_rungs(c, r.escalate, (*path, "escalate")),
        until=r.until,
        within=within or LADDER_WITHIN,
        urgent=r.urgent,
    )


def _rungs(c: CompilerBase, names: Sequence[str], path: PathKey) -> tuple[str, ...]:
    if not names:
        c.error(path, msg("ladder.no_rungs", where=where_of(path), messenger=MESSENGER))
    seen: list[str] = []
    for i, name in enumerate(names):
        if name in seen:
            c.error((*path, i), msg("ladder.rung_twice", where=where_of(path), name=name))
        elif name != MESSENGER and (name == "any" or (c.channels is not None
                                                      and name not in c.channels)):
            known = ", ".join(sorted(c.channels or ()))
            c.error((*path, i), msg("ladder.unknown_rung", where=where_of(path), name=name,
                                    messenger=MESSENGER, known=known))
        seen.append(name)
    return tuple(seen)


def duration_text(value: timedelta) -> str:
    """A duration as a flow writes it: 2h, 90m, 1d (the largest unit that fits exactly)."""
    for unit, size in _UNITS:
        if value and not value % size:
            return f"{value // size}{unit}"
    return f"{int(value.total_seconds())}s"


def urgency_text(critical: bool, ladder: Ladder | None, lang: Lang = DEFAULT_LANG) -> str:
    """'[critical; escalate: messenger → sms until answered within 2h]' (in ``lang``); ''
    for a plain one."""
    parts = [msg("chat.critical")] if critical else []
    if ladder is not None:
        until = msg("chat.until_answered" if ladder.until == "answered"
                    else "chat.until_delivered")
        parts.append(msg("chat.escalate", rungs=" → ".join(ladder.rungs), until=until,
                         within=duration_text(ladder.within)))
        if ladder.urgent:
            parts.append(msg("chat.urgent"))
    return f"[{'; '.join(p.render(lang) for p in parts)}]" if parts else ""
