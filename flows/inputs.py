"""Typed input parsing: what a customer typed -> a stored JSON value, or a Russian reason why not.

Owns the input kinds of the flow language (``INPUT_KINDS``) and how each is read:

* text — stripped, not empty;
* number — "1 200", "1,5", "3.5", "-2", "пять"; ``int`` when integral; ``minimum``/``maximum``;
* choice — by the option's text or a synonym the owner listed (case, ``ё``/``е``, spaces,
  punctuation and emoji ignored; a close word form such as «стрижку» for «Стрижка» counts
  when only one option fits), by its number "2", or by its id; stored: the ``Option.id``;
* yesno — Russian and English words and phrases; "не" turns a word around («не надо» is no,
  «не против» is yes); mixed or unsure answers are asked again;
* phone — ``phonenumbers`` with a default region, stored as E.164 "+79991234567";
* email — a sane shape check, domain lower-cased;
* date / time / datetime — ``flows.ru_dates`` relative to ``now`` (business time zone):
  "YYYY-MM-DD", "HH:MM", "YYYY-MM-DDTHH:MM";
* photo / file — answered by a file the customer sends, not by text (``FILE_KINDS``); the
  value is the attachment's id. Text is refused with a reason asking for the file.

``parse`` never raises for any text. Pure: no clock (``now`` is passed in), no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal, get_args

import phonenumbers

from flows import ru_dates, texts
from flows.types import JSON

InputKind = Literal[
    "text", "number", "choice", "yesno", "phone", "email", "date", "time", "datetime",
    "photo", "file",
]
INPUT_KINDS: tuple[InputKind, ...] = get_args(InputKind)
# The kinds a file answers, and which attachments answer each (``flows.types.AttachmentKind``):
# a photo question wants a picture; a file question takes a document or a photo (a scan).
FILE_KINDS: dict[str, tuple[str, ...]] = {"photo": ("photo",), "file": ("file", "photo")}

MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class Option:
    """One answer of a choice: ``id`` is stored, ``text`` is shown on the button."""

    id: str
    text: str
    also: tuple[str, ...] = ()  # other words the customer may type for it


@dataclass(frozen=True, slots=True)
class Parsed:
    """The customer's answer as a stored JSON value."""

    value: JSON


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why the answer was not understood, in Russian, ready to show the customer."""

    reason: str


Result = Parsed | Invalid


def parse(
    kind: InputKind,
    text: str,
    *,
    now: datetime,
    options: Sequence[Option] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    region: str = "RU",
) -> Result:
    """Read ``text`` as ``kind``; never raises."""
    if kind == "number":
        return parse_number(text, minimum=minimum, maximum=maximum)
    if kind == "choice":
        return parse_choice(text, options)
    if kind == "phone":
        return parse_phone(text, region=region)
    if kind in ("date", "time", "datetime"):
        return _parse_when(kind, text, now)
    if kind in FILE_KINDS:  # (a file itself is read by ``flows.answers``)
        return Invalid(texts.PHOTO_NEEDED if kind == "photo" else texts.FILE_NEEDED)
    reader = _SIMPLE.get(kind)
    if reader is None:
        return Invalid(texts.NOT_UNDERSTOOD)
    return reader(text)


def parse_text(text: str) -> Result:
    stripped = text.strip()
    if not stripped:
        return Invalid(texts.TEXT_NEEDED)
    if len(stripped) > MAX_TEXT:
        return Invalid(texts.TEXT_TOO_LONG.format(limit=MAX_TEXT))
    return Parsed(stripped)


def _words(text: str) -> str:
    """Lower case, ``ё`` -> ``е``, letters and digits only, single spaces."""
    cleaned = re.sub(r"[\W_]+", " ", text.casefold().replace("ё", "е"))
    return " ".join(cleaned.split())


# --------------------------------------------------------------------------- number

_NUMBER_RE = re.compile(r"([+-]?)(\d+(?:[ \u00a0\u202f']\d{3})*|\d*)(?:[.,](\d+))?")
_UNITS_RE = re.compile(r"\s*(?:₽|р\.?|руб\.?|рублей|рубля|рубль|шт\.?|штук[аи]?|%|человека?)$")
_NUMBER_WORDS = {
    "ноль": 0, "один": 1, "одна": 1, "одно": 1, "два": 2, "две": 2, "двое": 2, "три": 3,
    "трое": 3, "четыре": 4, "четверо": 4, "пять": 5, "пятеро": 5, "шесть": 6, "семь": 7,
    "восемь": 8, "девять": 9, "десять": 10,
}  # fmt: skip


def parse_number(
    text: str, *, minimum: float | None = None, maximum: float | None = None
) -> Result:
    value = _read_number(text) if len(text.strip()) <= 40 else None
    if value is None:
        return Invalid(texts.NUMBER_NEEDED)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        return Invalid(_range_reason(minimum, maximum))
    return Parsed(value)


def _read_number(text: str) -> int | float | None:
    word = _NUMBER_WORDS.get(_words(text))
    if word is not None:
        return word
    match = _NUMBER_RE.fullmatch(_UNITS_RE.sub("", text.strip()))
    if match is None or not (match[2] or match[3]):
        return None
    whole = re.sub(r"\D", "", match[2]) or "0"
    number = float(f"{match[1]}{whole}.{match[3] or '0'}")
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number


def _range_reason(minimum: float | None, maximum: float | None) -> str:
    low = "" if minimum is None else ru_format(minimum)
    high = "" if maximum is None else ru_format(maximum)
    if minimum is not None and maximum is not None:
        return texts.NUMBER_BETWEEN.format(low=low, high=high)
    if minimum is not None:
        return texts.NUMBER_AT_LEAST.format(low=low)
    return texts.NUMBER_AT_MOST.format(high=high)


def ru_format(number: float) -> str:
    """3.0 -> "3", 1.5 -> "1,5" (for reasons shown to customers)."""
    return f"{number:.15g}".replace(".", ",") if number != int(number) else str(int(number))


# --------------------------------------------------------------------------- choice


def parse_choice(text: str, options: Sequence[Option]) -> Result:
    """The id of the option the customer meant, by its text, its number or its id."""
    wanted = _words(text[:200])
    if wanted:
        found = _by_text(wanted, options) or _by_number(text, options)
        found = found or _by_id(wanted, options) or _by_word_forms(wanted, options)
        if found is not None:
            return Parsed(found.id)
    return Invalid(_choice_reason(options))


def _by_text(wanted: str, options: Sequence[Option]) -> Option | None:
    found = next((o for o in options if _words(o.text) == wanted), None)
    return found or next((o for o in options if any(_words(w) == wanted for w in o.also)), None)


_CHOICE_NUMBER_RE = re.compile(r"[№#]?\s*([0-9]{1,3})\s*[.)]?")


def _by_number(text: str, options: Sequence[Option]) -> Option | None:
    """The option by its number: "2", "2.", "2)", "№2" -> the second one."""
    match = _CHOICE_NUMBER_RE.fullmatch(text.strip())
    if match and 1 <= int(match[1]) <= len(options):
        return options[int(match[1]) - 1]
    return None


def _by_id(wanted: str, options: Sequence[Option]) -> Option | None:
    return next((o for o in options if _words(o.id) == wanted), None)


def _by_word_forms(wanted: str, options: Sequence[Option]) -> Option | None:
    """The only option whose every word is close to a word typed («стрижку» ~ «Стрижка»)."""
    typed = wanted.split()
    fits = [o for o in options if _words(o.text) and _all_words_close(_words(o.text), typed)]
    return fits[0] if len(fits) == 1 else None


def _all_words_close(option_text: str, typed: list[str]) -> bool:
    return all(any(_close(word, t) for t in typed) for word in option_text.split())


def _close(word: str, typed: str) -> bool:
    """Same word or the same stem: short words exactly; longer ones may differ in the last two
    letters («стрижку» ~ «стрижка», «окрашивания» ~ «окрашивание»)."""
    if len(word) < 4:
        return typed == word
    need = max(4, len(word) - 2)
    return len(typed) <= len(word) + 3 and typed[:need] == word[:need]


def _choice_reason(options: Sequence[Option]) -> str:
    if not options:
        return texts.NOT_UNDERSTOOD
    listed = "; ".join(f"{i} — {o.text}" for i, o in enumerate(options, 1))
    return texts.CHOOSE_OPTION.format(listed=listed)


# --------------------------------------------------------------------------- yes / no

# fmt: off
_YES = frozenset({
    "да", "ага", "угу", "ок", "окей", "конечно", "хорошо", "ладно", "верно", "точно",
    "правильно", "подтверждаю", "подтверждаем", "согласен", "согласна", "согласны",
    "разумеется", "давай", "давайте", "естественно", "безусловно", "именно", "пожалуй",
    "вполне", "записывайте", "поехали", "отлично", "супер", "хочу", "можно", "надо", "нужно",
    "буду", "будем", "го", "д", "ok", "okay", "yes", "yeah", "yep", "yup", "sure", "y",
})
_NO = frozenset({
    "нет", "неа", "нету", "против", "возражаю", "отказываюсь", "отказываемся", "отказ",
    "никогда", "нельзя", "н", "no", "nope", "nah", "not", "never", "n",
})
_UNSURE = frozenset({
    "знаю", "уверен", "уверена", "может", "наверное", "возможно", "подумаю", "посмотрим",
})
# fmt: on
_NEGATORS = frozenset({"не", "ни", "без"})
_YES_PHRASES = frozenset(
    {"почему бы и нет", "почему бы нет", "еще бы", "а то", "of course", "why not"}
)
_NO_PHRASES = frozenset({"да нет", "конечно нет", "ни за что", "ни в коем случае", "no way"})
_YES_MARKS = frozenset(["+", "👍", "✅", "✔", "✔️", "👌", "🙂", "😊", "👍🏻", "👍🏼", "👍🏽"])
_NO_MARKS = frozenset(["-", "👎", "❌", "✖", "🚫", "👎🏻", "👎🏼", "👎🏽"])
_YESNO_REASON = texts.YES_OR_NO


def parse_yesno(text: str) -> Result:
    stripped = text.strip()
    if stripped in _YES_MARKS or stripped in _NO_MARKS:
        return Parsed(stripped in _YES_MARKS)
    phrase = _words(stripped[:200])
    if phrase in _YES_PHRASES or phrase in _NO_PHRASES:
        return Parsed(phrase in _YES_PHRASES)
    answers = _polarities(phrase.split())
    if answers in ({True}, {False}):
        return Parsed(True in answers)
    return Invalid(_YESNO_REASON)


def _polarities(words: list[str]) -> set[bool | None]:
    """The answers the words carry: True, False, or None for "don't know"."""
    found: set[bool | None] = set()
    negate = False
    for word in words:
        if word in _NEGATORS:
            if negate:  # "не не" - give up
                return {None, True}
            negate = True
            continue
        polarity = _polarity(word)
        if polarity is not None:
            found.add(polarity != negate)
        elif word in _UNSURE:
            found.add(None)
        negate = False
    if negate:  # a trailing "не" / "ни" alone
        found.add(False)
    return found


def _polarity(word: str) -> bool | None:
    for form in (word, re.sub(r"(.)\1+", r"\1", word)):  # "дааа", "нееет"
        if form in _YES:
            return True
        if form in _NO:
            return False
    return None


# --------------------------------------------------------------------------- phone and e-mail


def parse_phone(text: str, *, region: str = "RU") -> Result:
    if len(text) > 100 or sum(c.isdigit() for c in text) < 7:
        return Invalid(texts.PHONE_NEEDED)
    phone = phone_e164(text, region=region)
    return Invalid(texts.PHONE_NEEDED) if phone is None else Parsed(phone)


PhoneCheck = Literal["valid", "possible"]


def phone_e164(text: str, *, region: str = "RU", check: PhoneCheck = "valid") -> str | None:
    """``text`` as an E.164 number (``+79991234567``), None when it is not one: the one home
    of phone parsing, for the engine's ``phone`` input and for storage's profile field.

    ``valid`` (what a customer's answer is held to): a number of its country's numbering plan;
    ``possible``: only the right length for its country.
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    fits = phonenumbers.is_valid_number if check == "valid" else phonenumbers.is_possible_number
    if not fits(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


_EMAIL_RE = re.compile(
    r"(?P<local>[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*)"
    r"@(?P<domain>(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63})"
)


def parse_email(text: str) -> Result:
    candidate = text.strip().strip("<>").strip()
    if candidate.casefold().startswith("mailto:"):
        candidate = candidate[7:]
    match = _EMAIL_RE.fullmatch(candidate) if len(candidate) <= 254 else None
    if match is None or len(match["local"]) > 64:
        return Invalid(texts.EMAIL_NEEDED)
    return Parsed(f"{match['local']}@{match['domain'].lower()}")


# --------------------------------------------------------------------------- dates and times


def _parse_when(kind: InputKind, text: str, now: datetime) -> Result:
    found: date | time | datetime | ru_dates.Bad
    if kind == "date":
        found = ru_dates.parse_date(text, now.date())
    elif kind == "time":
        found = ru_dates.parse_time(text)
    else:
        found = ru_dates.parse_datetime(text, now)
    if isinstance(found, ru_dates.Bad):
        return Invalid(found.reason)
    if isinstance(found, datetime):
        return Parsed(found.strftime("%Y-%m-%dT%H:%M"))
    if isinstance(found, time):
        return Parsed(found.strftime("%H:%M"))
    return Parsed(found.isoformat())


_SIMPLE = {"text": parse_text, "yesno": parse_yesno, "email": parse_email}
