"""Russian words and formats in one place: month and weekday names, plurals, money, dates.

Owns the vocabulary shared by input parsing (``flows.ru_dates``) and template filters
(``flows.templates``), and the conversion of stored JSON forms ("2026-12-25", "15:30",
"2026-12-25T15:30") back into ``date``/``time``/``datetime``.

It must not parse free customer text (that is ``flows.ru_dates``) and does no I/O.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

NBSP = "\u00a0"

# Index 0 is January / Monday (``date.month - 1``, ``date.weekday()``).
MONTHS_GENITIVE: tuple[str, ...] = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
MONTHS_PREPOSITIONAL: tuple[str, ...] = (
    "январе", "феврале", "марте", "апреле", "мае", "июне",
    "июле", "августе", "сентябре", "октябре", "ноябре", "декабре",
)  # fmt: skip
WEEKDAYS_NOMINATIVE: tuple[str, ...] = (
    "понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье",
)  # fmt: skip
WEEKDAYS_ACCUSATIVE: tuple[str, ...] = (
    "понедельник", "вторник", "среду", "четверг", "пятницу", "субботу", "воскресенье",
)  # fmt: skip
WEEKDAYS_SHORT: tuple[str, ...] = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")

# Month words a customer may type, by the shortest unambiguous stem -> month number.
# "май"/"мая" share "ма" with "март"/"марта", so they are listed in full.
MONTH_STEMS: tuple[tuple[str, int], ...] = (
    ("янв", 1), ("фев", 2), ("мар", 3), ("апр", 4), ("мая", 5), ("май", 5),
    ("июн", 6), ("июл", 7), ("авг", 8), ("сен", 9), ("окт", 10), ("ноя", 11), ("дек", 12),
)  # fmt: skip

# Weekday words a customer may type -> ``date.weekday()``.
WEEKDAY_WORDS: dict[str, int] = {
    **{name: i for i, name in enumerate(WEEKDAYS_NOMINATIVE)},
    **{name: i for i, name in enumerate(WEEKDAYS_ACCUSATIVE)},
    **{name: i for i, name in enumerate(WEEKDAYS_SHORT)},
    "пнд": 0, "втр": 1, "срд": 2, "чтв": 3, "птн": 4, "сбт": 5, "вск": 6,
    "понед": 0, "воскр": 6,
}  # fmt: skip

WeekdayCase = Literal["nom", "acc"]


def month_from_word(word: str) -> int | None:
    """The month number of a (lower-case, ``ё``-free) Russian month word or abbreviation."""
    if len(word) < 3:
        return None
    for stem, month in MONTH_STEMS:
        if word.startswith(stem):
            return month
    return None


def plural_form(n: float, one: str, few: str, many: str) -> str:
    """The Russian plural form for ``n``: 1 день, 3 дня, 11 дней, 21 день, 1,5 дня."""
    if n != int(n):
        return few
    k = abs(int(n))
    if k % 10 == 1 and k % 100 != 11:
        return one
    if 2 <= k % 10 <= 4 and not 12 <= k % 100 <= 14:
        return few
    return many


# --------------------------------------------------------------------------- numbers


def format_number(value: float | str | Decimal, *, decimals: int | None = None) -> str:
    """Russian number: thousands by a non-breaking space, decimal comma ("1 200,5")."""
    number = _decimal(value)
    if decimals is not None:
        number = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    elif number == number.to_integral_value():
        number = number.quantize(Decimal(1))
    sign = "-" if number < 0 else ""
    whole, _, fraction = f"{abs(number):f}".partition(".")
    groups = f"{int(whole):,}".replace(",", NBSP)
    return sign + groups + ("," + fraction if fraction else "")


def format_money(value: float | str, currency: str = "₽") -> str:
    """1200 -> "1 200 ₽"; 1200.5 -> "1 200,50 ₽" (non-breaking spaces)."""
    number = _decimal(value)
    whole = number == number.to_integral_value()
    text = format_number(number, decimals=0 if whole else 2)
    return f"{text}{NBSP}{currency}" if currency else text


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = Decimal(str(value).replace(" ", "").replace(NBSP, "").replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


# --------------------------------------------------------------------------- stored forms

_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def to_date(value: object) -> date:
    """A ``date`` from a date, a datetime, "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM"."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        match = _DATE_RE.fullmatch(value.strip()[:10])
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                pass
    raise ValueError(f"expected a date like 2026-12-25, got {value!r}")


def to_time(value: object) -> time:
    """A ``time`` from a time, a datetime, "HH:MM" or "YYYY-MM-DDTHH:MM"."""
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        text = value.strip()
        _, sep, tail = text.partition("T")
        match = _TIME_RE.fullmatch(tail if sep else text)
        if match:
            try:
                return time(int(match[1]), int(match[2]), int(match[3] or 0))
            except ValueError:
                pass
    raise ValueError(f"expected a time like 15:30, got {value!r}")


def to_datetime(value: object) -> datetime:
    """A naive-or-aware ``datetime`` from a datetime or "YYYY-MM-DDTHH:MM" / "... HH:MM"."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        try:
            return datetime.combine(to_date(text), to_time(text))
        except ValueError:
            pass
    raise ValueError(f"expected a date and time like 2026-12-25T15:30, got {value!r}")


# --------------------------------------------------------------------------- formats


def format_date(value: object, *, year: bool = False) -> str:
    """A date as "25 декабря" (with ``year``: "25 декабря 2026")."""
    day = to_date(value)
    text = f"{day.day} {MONTHS_GENITIVE[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def format_weekday(value: object, case: WeekdayCase = "nom") -> str:
    """The weekday: "пятница" (``case="acc"``: "пятницу", as in «в пятницу»)."""
    names = WEEKDAYS_ACCUSATIVE if case == "acc" else WEEKDAYS_NOMINATIVE
    return names[to_date(value).weekday()]


def format_date_full(value: object) -> str:
    """A date with its weekday: "25 декабря, пятница"."""
    return f"{format_date(value)}, {format_weekday(value)}"


def format_time(value: object) -> str:
    """A time as "15:30"."""
    moment = to_time(value)
    return f"{moment.hour:02d}:{moment.minute:02d}"


def format_datetime(value: object) -> str:
    """A date and time as "25 декабря в 15:30"."""
    moment = to_datetime(value)
    return f"{format_date(moment)} в {format_time(moment)}"
