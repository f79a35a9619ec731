"""What ``svyaz check`` says, as data: a message is a catalogue key and its values.

Owns ``Msg`` (a message not yet put into words), ``msg`` (how code makes one) and
``render`` (the words, in Russian or English). The texts themselves live in one place,
``flows.catalogue``; a test checks that every key used in the code is there in both
languages with the same placeholders. Which language to speak is the caller's choice
(``bots`` reads ``SVYAZ_LANG``); this module reads no environment and does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flows.catalogue import CATALOGUE

Lang = Literal["ru", "en"]
LANGS: tuple[Lang, ...] = ("ru", "en")
DEFAULT_LANG: Lang = "ru"


@dataclass(frozen=True, slots=True)
class Msg:
    """A catalogue key with its values; a value may itself be a ``Msg`` (a phrase)."""

    key: str
    args: tuple[tuple[str, object], ...] = ()

    def render(self, lang: Lang = DEFAULT_LANG) -> str:
        texts = CATALOGUE[self.key]
        values = {k: v.render(lang) if isinstance(v, Msg) else v for k, v in self.args}
        return texts[lang].format(**values)

    def __str__(self) -> str:
        return self.render()

    def __bool__(self) -> bool:
        """An empty phrase (``NOTHING``) is false, so ``hint or other`` reads naturally."""
        return self.key != "empty"


def msg(key: str, /, **args: object) -> Msg:
    """The message ``key`` of the catalogue with its values (rendered later, in a language)."""
    if key not in CATALOGUE:
        raise KeyError(f"no message '{key}' in flows.catalogue")
    return Msg(key, tuple(args.items()))


NOTHING = Msg("empty")


def lang_of(value: str | None) -> Lang:
    """'en' for an English setting ('en', 'en_US', 'EN'), else Russian (the default)."""
    return "en" if (value or "").strip().lower().startswith("en") else DEFAULT_LANG
