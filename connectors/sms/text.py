"""SMS text: how many parts a text takes, cutting it to fit, and plain text from a reply.

Pure functions, no I/O. An SMS part holds 140 bytes: 160 GSM-7 characters (153 per part when
the text is split, the rest is the concatenation header) or, as soon as one character is
outside GSM-7 (any Cyrillic letter), 70 UCS-2 code units (67 per part). GSM-7's extension
characters (``^{}\\[~]|€`` and form feed) take two septets; a character outside the Basic
Multilingual Plane (an emoji) takes two UCS-2 units. A part never splits either pair, as
phones and providers split them.

Must not: know providers' prices or send anything.
"""

from __future__ import annotations

import html
import re

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
# The cut mark keeps the text's encoding: "…" is not GSM-7 and would halve a Latin text's room.
MARK_UCS2, MARK_GSM = "…", "..."
# ``fit`` moves a cut back to the last space when one is this close, so a word is not halved.
WORD_BACKOFF = 15


def is_gsm(text: str) -> bool:
    """True when every character is in GSM-7 (basic table or extension)."""
    return all(c in GSM_BASIC or c in GSM_EXTENSION for c in text)


def _units(text: str) -> tuple[list[int], int, int]:
    """Each character's size in its encoding's units, and the single / per-part capacity."""
    if is_gsm(text):
        return [2 if c in GSM_EXTENSION else 1 for c in text], GSM_SINGLE, GSM_PART
    return [2 if ord(c) > 0xFFFF else 1 for c in text], UCS2_SINGLE, UCS2_PART


def parts(text: str) -> int:
    """How many SMS parts ``text`` takes (0 for an empty text)."""
    sizes, single, per_part = _units(text)
    if sum(sizes) <= single:
        return 1 if text else 0
    count, room = 1, per_part
    for size in sizes:
        if size > room:  # a pair never straddles two parts
            count, room = count + 1, per_part
        room -= size
    return count


def mark_for(text: str) -> str:
    return MARK_GSM if is_gsm(text) else MARK_UCS2


def fit(text: str, max_parts: int = 2) -> str:
    """``text`` itself when it takes at most ``max_parts`` parts; otherwise its longest prefix
    (cut at a space when one is near, trailing spaces dropped) followed by a mark ("…", or
    "..." for a GSM-7 text) that fits in ``max_parts``."""
    if max_parts < 1:
        raise ValueError("max_parts must be at least 1")
    if parts(text) <= max_parts:
        return text
    mark = mark_for(text)
    low, high = 0, len(text)  # parts(text[:low] + mark) fits; text[:high] + mark does not
    while high - low > 1:
        middle = (low + high) // 2
        if parts(text[:middle].rstrip() + mark) <= max_parts:
            low = middle
        else:
            high = middle
    return _at_word(text, low).rstrip() + mark


def _at_word(text: str, cut: int) -> str:
    """``text[:cut]``, moved back to the last whitespace when the cut halves a word."""
    if cut == 0 or text[cut].isspace() or text[cut - 1].isspace():
        return text[:cut]
    space = max(text.rfind(" ", 0, cut), text.rfind("\n", 0, cut))
    return text[:space] if space > 0 and cut - space <= WORD_BACKOFF else text[:cut]


_HTML_BREAK = re.compile(r"<br\s*/?>|</p>|</div>|</li>", re.IGNORECASE)
_HTML_LINK = re.compile(r"<a\s[^>]*href=[\"']([^\"']+)[\"'][^>]*>(.*?)</a>", re.I | re.S)
_HTML_TAG = re.compile(r"<[^>]+>")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|~~|`)(.+?)\1", re.S)
_MD_SINGLE = re.compile(r"(?<![\w*])([*_])(?!\s)(.+?)(?<!\s)\1(?![\w*])")
_MD_HEADING = re.compile(r"^#{1,6}\s+", re.M)
_BLANK_LINES = re.compile(r"\n{3,}")


def _link(label: str, url: str) -> str:
    label = label.strip()
    return url if label in ("", url) else f"{label} ({url})"


def plain(text: str) -> str:
    """A reply's text with its markdown-ish and HTML bits made plain: links become
    "label (url)", emphasis and tags are dropped, entities decoded, blank runs shortened."""
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_LINK.sub(lambda m: _link(_HTML_TAG.sub("", m[2]), m[1]), text)
    text = _HTML_TAG.sub("", text)
    text = _MD_LINK.sub(lambda m: _link(m[1], m[2]), text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = _MD_SINGLE.sub(r"\2", text)
    text = _MD_HEADING.sub("", text)
    text = html.unescape(text)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", text).strip()
