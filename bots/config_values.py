"""A setting whose value has the wrong form (pydantic refused it), said to the owner.

Owns the step from one of pydantic's error details (``SVYAZ_PORT=eighty``) to a catalogue
message naming the setting, the value and what it must be, in the owner's language (pydantic's
own sentences are English). A detail of a kind not listed here keeps pydantic's words inside
a translated sentence. Pure: no environment, no I/O.
"""

from __future__ import annotations

import re

from pydantic_core import ErrorDetails

from flows.messages import Msg, msg

PREFIX = "SVYAZ_"

# pydantic's error type -> (catalogue key, the context value that fills {limit})
_BOUNDS = {
    "greater_than_equal": ("settings.at_least", "ge"),
    "greater_than": ("settings.above", "gt"),
    "less_than_equal": ("settings.at_most", "le"),
    "too_long": ("settings.too_long", "max_length"),
    "string_too_long": ("settings.too_long", "max_length"),
}
_FORMS = {
    "int_parsing": "settings.integer", "int_type": "settings.integer",
    "int_from_float": "settings.integer", "float_parsing": "settings.number",
    "float_type": "settings.number",
}


def describe_value(item: ErrorDetails) -> Msg:
    """The owner's sentence for one refused value."""
    name = PREFIX + "_".join(str(part) for part in item["loc"][:1]).upper()
    value = repr(item.get("input"))
    kind, context = item["type"], item.get("ctx") or {}
    if kind == "literal_error":
        allowed = ", ".join(re.findall(r"'[^']*'", str(context.get("expected", ""))))
        return msg("settings.choice", name=name, allowed=allowed, value=value)
    if kind in _FORMS:
        return msg(_FORMS[kind], name=name, value=value)
    if kind in _BOUNDS:
        key, limit = _BOUNDS[kind]
        bound = context.get(limit)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # "больше 0", not "больше 0.0"
        return msg(key, name=name, limit=bound, value=value)
    if kind == "string_pattern_mismatch":
        return msg("settings.form", name=name, value=value, pattern=context.get("pattern"))
    return msg("settings.invalid", name=name, value=value, detail=item["msg"])
