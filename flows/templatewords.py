"""Jinja's compile errors in the owner's words (``svyaz check``'s "ошибка в шаблоне: …").

Owns the mapping from the messages ``flows.templates`` raises (Jinja's own, in English) to
catalogue messages: an unclosed ``{{``, an unknown filter, a block without its end, an empty
hole. A message it does not know is passed on as it is. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flows.messages import Msg, msg

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], Msg]]
_RULES: tuple[_Rule, ...] = (
    (re.compile(r"^unexpected '\}'"), lambda m: msg("template.brace")),
    (re.compile(r"^unexpected 'end of template'"), lambda m: msg("template.cut")),
    (re.compile(r"^Expected an expression, got 'end of print statement'"),
     lambda m: msg("template.empty")),
    (re.compile(r"^No filter named '([^']*)'\.?(?: did you mean '([^']*)'\?)?"
                r"(?: Russian filters: (.*))?"),
     lambda m: msg("template.filter", name=m[1],
                   hint=msg("hint.did_you_mean", word=m[2]) if m[2] else msg("empty"),
                   filters=m[3] or "-")),
    (re.compile(r"^Unexpected end of template\..*innermost block that needs to be closed is "
                r"'(\w+)'", re.S), lambda m: msg("template.block", block=m[1])),
    (re.compile(r"^Encountered unknown tag '(\w+)'"), lambda m: msg("template.tag", tag=m[1])),
    (re.compile(r"^the (?:attribute|key|name) '([^']*)' is not allowed"),
     lambda m: msg("template.private", name=m[1])),
)


def explain(message: str) -> Msg:
    """The owner's words for a template compile error ``message``."""
    for pattern, words in _RULES:
        found = pattern.match(message)
        if found:
            return words(found)
    return msg("schema.raw", text=message)
