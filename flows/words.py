"""Normalising customer words for matching commands and trigger phrases.

Owns ``normalize`` (case, 'ё', punctuation, spaces) and ``contains_phrase`` (whole-word
match). Pure; no I/O.
"""

from __future__ import annotations

import re

_PUNCT = re.compile(r"[^\w/]+", re.UNICODE)


def normalize(text: str) -> str:
    """'  Записаться!!  ' -> 'записаться'; 'Ёлка' -> 'елка'."""
    return " ".join(_PUNCT.sub(" ", text.lower().replace("ё", "е")).split())


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether normalised ``text`` holds normalised ``phrase`` as whole words."""
    if not phrase:
        return False
    return f" {phrase} " in f" {text} "
