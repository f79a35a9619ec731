"""Dates and times as customers type them in Russian, resolved against a given ``today``/``now``.

Owns the reading of "завтра", "вчера", "в пятницу", "через неделю", "25.12", "25 декабря",
"2026-12-25", "15:30", "в 3 часа дня", "в час", "полвосьмого", "вечером в 7", "полдень", their
combinations ("завтра в 15:30") and "через 2 часа". Rules it decides:

* a weekday means its next occurrence, and today counts: "в пятницу" said on a Friday is today;
  "в следующую пятницу" is the Friday of next calendar week;
* a day and month without a year roll to next year once they are past ("1 января" in December);
  today itself stays this year; an explicit year is taken as given (past dates too);
* a bare hour is taken literally ("в 3" is 03:00); "дня"/"вечера"/"ночи" move it ("в 3 часа дня"
  is 15:00, "в 11 ночи" 23:00, "в 2 ночи" 02:00);
* a date and time need both parts; a time alone means its next occurrence from ``now``.

Functions return the value or ``Bad(reason)`` with a Russian reason for the customer. Pure: the
clock comes in as an argument; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flows import texts
from flows.ru import MONTHS_PREPOSITIONAL, WEEKDAY_WORDS, month_from_word

MAX_LENGTH = 100

DATE_HELP = texts.DATE_HELP
TIME_HELP = texts.TIME_HELP
DATETIME_HELP = texts.DATETIME_HELP


@dataclass(frozen=True, slots=True)
class Bad:
    """Why a text is not a date or time, in Russian, for the customer."""

    reason: str


def normalize(text: str) -> str:
    """Lower case, ``ё`` -> ``е``, commas and dashes as spaces, single spaces, no edge marks."""
    text = text.casefold().replace("ё", "е").replace("\u00a0", " ")
    text = re.sub(r"(\d)t(\d)", r"\1 \2", text)
    text = re.sub(r"(\d)-(го|е)\b", r"\1\2", text)
    text = re.sub(r"[,;!?«»\"'()]|(?<!\d)[-–—]|[-–—](?!\d)", " ", text)
    return " ".join(text.split()).strip(" .")


_PREPOSITIONS = frozenset({"в", "во", "на", "к", "ко"})


def _drop_preposition(words: list[str]) -> list[str]:
    return words[1:] if len(words) > 1 and words[0] in _PREPOSITIONS else words


# --------------------------------------------------------------------------- dates

_RELATIVE_DAYS = {
    "позавчера": -2, "вчера": -1, "сегодня": 0, "завтра": 1, "послезавтра": 2,
    "послепослезавтра": 3,
}  # fmt: skip
_THIS = frozenset({"эту", "этот", "это", "ближайшую", "ближайший", "ближайшее"})
_NEXT = frozenset({"следующую", "следующий", "следующее", "след"})
_ISO_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMERIC_RE = re.compile(r"(\d{1,2})[./-](\d{1,2})(?:[./-](\d{2}|\d{4}))?\.?")
_DAY_RE = re.compile(r"(\d{1,2})(?:го|е)?")
_YEAR_RE = re.compile(r"(\d{4})(?:г|г\.|года?)?")
_IN_RE = re.compile(
    r"через (?:(\d{1,3}|одну|один|две|два|три) ?)?(день|дня|дней|неделю|недели|недель)"
)
_SMALL = {"один": 1, "одну": 1, "два": 2, "две": 2, "три": 3}


def parse_date(text: str, today: date) -> date | Bad:
    """A calendar date from Russian text, relative to ``today``."""
    words, _ = _take_period(normalize(text).split())
    if not words or len(text) > MAX_LENGTH:
        return Bad(DATE_HELP)
    words = _drop_preposition(words)
    phrase = " ".join(words)
    for reader in (_relative, _weekday, _iso, _numeric, _spelled):
        found = reader(phrase, words, today)
        if found is not None:
            return found
    return Bad(DATE_HELP)


def _relative(phrase: str, words: list[str], today: date) -> date | Bad | None:
    if phrase in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[phrase])
    match = _IN_RE.fullmatch(phrase)
    if match is None:
        return None
    count = _SMALL.get(match[1] or "один") or int(match[1])
    unit = 7 if match[2].startswith("недел") else 1
    return today + timedelta(days=count * unit)


def _weekday(phrase: str, words: list[str], today: date) -> date | None:
    modifier = words[0] if len(words) == 2 else None
    if len(words) > 2 or (modifier is not None and modifier not in _THIS | _NEXT):
        return None
    weekday = WEEKDAY_WORDS.get(words[-1].rstrip("."))
    if weekday is None:
        return None
    if modifier in _NEXT:
        next_monday = today + timedelta(days=7 - today.weekday())
        return next_monday + timedelta(days=weekday)
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _iso(phrase: str, words: list[str], today: date) -> date | Bad | None:
    match = _ISO_RE.fullmatch(phrase)
    if match is None:
        return None
    return _exact(int(match[3]), int(match[2]), int(match[1]))


def _numeric(phrase: str, words: list[str], today: date) -> date | Bad | None:
    match = _NUMERIC_RE.fullmatch(phrase)
    if match is None:
        return None
    day, month = int(match[1]), int(match[2])
    if match[3] is None:
        return _upcoming(day, month, today)
    year = int(match[3])
    return _exact(day, month, year + 2000 if year < 100 else year)


def _spelled(phrase: str, words: list[str], today: date) -> date | Bad | None:
    if len(words) < 2 or len(words) > 4:
        return None
    day_match = _DAY_RE.fullmatch(words[0])
    if day_match is None:
        return None
    day = int(day_match[1])
    if words[1:] == ["числа"]:
        return _day_of_month(day, today)
    month = month_from_word(words[1].rstrip("."))
    if month is None:
        return None
    rest = " ".join(words[2:])
    if not rest:
        return _upcoming(day, month, today)
    year_match = _YEAR_RE.fullmatch(rest.replace(" ", ""))
    if year_match is None:
        return None
    return _exact(day, month, int(year_match[1]))


def _no_such_day(day: int, month: int) -> Bad:
    if not 1 <= month <= 12:
        return Bad(f"Месяца с номером {month} нет. {DATE_HELP}")
    return Bad(texts.NO_SUCH_DAY.format(month=MONTHS_PREPOSITIONAL[month - 1], day=day))


def _exact(day: int, month: int, year: int) -> date | Bad:
    try:
        return date(year, month, day)
    except ValueError:
        return _no_such_day(day, month)


def _upcoming(day: int, month: int, today: date) -> date | Bad:
    """The next ``day``.``month`` from today on (today counts); 29.02 finds a leap year."""
    for year in range(today.year, today.year + 9):
        try:
            found = date(year, month, day)
        except ValueError:
            continue
        if found >= today:
            return found
    return _no_such_day(day, month)


def _day_of_month(day: int, today: date) -> date | Bad:
    """A day of the month ("25 числа"): this month if not past, else the next that has it."""
    year, month = today.year, today.month
    for _ in range(13):
        try:
            found = date(year, month, day)
        except ValueError:
            found = None
        if found is not None and found >= today:
            return found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return Bad(f"Числа {day} не бывает. {DATE_HELP}")


# --------------------------------------------------------------------------- times

_NAMED_TIMES = {"полдень": time(12, 0), "полночь": time(0, 0)}
_TIME_RE = re.compile(
    r"(\d{1,2})(?:[:.](\d{2}))?"
    r"(?: ?(?:ч|час|часа|часов)\.?)?"
    r"(?: ?(\d{1,2}) ?(?:м|мин|минут|минуты|минута)\.?)?"
    r"(?: ?(утра|дня|вечера|ночи|am|pm|a\.m\.|p\.m\.))?"
)
_PERIODS = ("утра", "дня", "вечера", "ночи", "am", "pm", "a.m.", "p.m.")
_PERIOD_ADVERBS = {"утром": "утра", "днем": "дня", "вечером": "вечера", "ночью": "ночи"}
# fmt: off
_HOUR_WORDS = {
    "один": 1, "два": 2, "три": 3, "четыре": 4, "пять": 5, "шесть": 6, "семь": 7,
    "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11, "двенадцать": 12,
}
_ORDINALS = {
    "первого": 1, "второго": 2, "третьего": 3, "четвертого": 4, "пятого": 5, "шестого": 6,
    "седьмого": 7, "восьмого": 8, "девятого": 9, "десятого": 10, "одиннадцатого": 11,
    "двенадцатого": 12,
}
# fmt: on
_HALF_RE = re.compile(r"(?:пол|половина |половине |пол )(\w+)")


def parse_time(text: str, *, period: str | None = None) -> time | Bad:
    """A time of day: "15:30", "15.30", "в 15", "в 3 часа дня", "в час", "полвосьмого вечера".

    ``period`` ("вечера", …) applies when the text names none (from "вечером" elsewhere).
    """
    words, found_period = _take_period(normalize(text).split())
    if not words or len(text) > MAX_LENGTH:
        return Bad(TIME_HELP)
    phrase = " ".join(_spelled_hours(_drop_preposition(words)))
    if phrase in _NAMED_TIMES:
        return _NAMED_TIMES[phrase]
    period = found_period or period
    if period and not phrase.endswith(_PERIODS):
        phrase = f"{phrase} {period}"
    match = _TIME_RE.fullmatch(phrase)
    if match is None or (match[2] is not None and match[3] is not None):
        return Bad(TIME_HELP)
    hour = _with_period(int(match[1]), match[4])
    minute = int(match[2] or match[3] or 0)
    if hour is None or hour > 23 or minute > 59:
        return Bad(texts.NO_SUCH_TIME)
    return time(hour, minute)


def _take_period(words: list[str]) -> tuple[list[str], str | None]:
    """Remove "утром"/"днём"/"вечером"/"ночью"; return the rest and the period they mean."""
    period = next((_PERIOD_ADVERBS[w] for w in words if w in _PERIOD_ADVERBS), None)
    return [w for w in words if w not in _PERIOD_ADVERBS], period


def _spelled_hours(words: list[str]) -> list[str]:
    """Hours in words as digits: "три часа" -> "3 часа", "час" -> "1 час", "полвосьмого": 7:30."""
    for consumed in (2, 1):
        half = _HALF_RE.fullmatch(" ".join(words[:consumed]))
        if half and half[1] in _ORDINALS and len(words) >= consumed:
            hour = _ORDINALS[half[1]] - 1 or 12
            return [f"{hour}:30", *words[consumed:]]
    out: list[str] = []
    for word in words:
        if word in _HOUR_WORDS:
            word = str(_HOUR_WORDS[word])
        elif word == "час" and not (out and out[-1].isdecimal()):
            out.append("1")
        out.append(word)
    return out


def _with_period(hour: int, period: str | None) -> int | None:
    """Apply "утра"/"дня"/"вечера"/"ночи" (or am/pm) to a 12-hour clock reading."""
    if period is None:
        return hour
    if hour > 12:
        return hour if period in ("дня", "вечера", "pm", "p.m.") and hour < 24 else None
    if period in ("утра", "am", "a.m."):
        return 0 if hour == 12 and period != "утра" else hour
    if period == "дня":
        return hour + 12 if 1 <= hour <= 7 else hour
    if period == "ночи":
        return 0 if hour == 12 else (hour + 12 if hour >= 6 else hour)
    # "вечера", "pm"
    return hour if hour == 12 and period != "вечера" else (hour + 12) % 24


# --------------------------------------------------------------------------- both


def parse_datetime(text: str, now: datetime) -> datetime | Bad:
    """A local date and time: "завтра в 15:30", "25 декабря в 3 часа дня", "2026-12-25 15:30".

    The result is naive (local wall-clock time of the business time zone that ``now`` is in).
    """
    words, period = _take_period(normalize(text).split())
    if not words or len(text) > MAX_LENGTH:
        return Bad(DATETIME_HELP)
    later = _in_a_while(" ".join(words), now)
    if later is not None:
        return later
    today = now.date()
    problem: Bad | None = None
    for cut in range(1, len(words)):
        head, tail = " ".join(words[:cut]), " ".join(words[cut:])
        for date_part, time_part in ((head, tail), (tail, head)):
            found = _both(date_part, time_part, today, period)
            if isinstance(found, datetime):
                return found
            problem = problem or found
    return problem or _single(" ".join(words), now, period)


_IN_TIME_RE = re.compile(r"через (?:(\d{1,3}) )?(час|часа|часов|минуту|минуты|минут|полчаса)")


def _in_a_while(phrase: str, now: datetime) -> datetime | None:
    """A while from now: "через 2 часа", "через час", "через 30 минут", "через полчаса"."""
    match = _IN_TIME_RE.fullmatch(phrase)
    if match is None:
        return None
    count = int(match[1] or 1)
    delta = timedelta(minutes=30 * count if match[2] == "полчаса" else count)
    if match[2].startswith("час"):
        delta = timedelta(hours=count)
    return (now.replace(second=0, microsecond=0, tzinfo=None)) + delta


def _both(date_part: str, time_part: str, today: date, period: str | None) -> datetime | Bad | None:
    """Both parts read: the moment; the time read but the date impossible: why; else None."""
    moment = parse_time(time_part, period=period)
    if not isinstance(moment, time):
        return None
    day = parse_date(date_part, today)
    if isinstance(day, date):
        return datetime.combine(day, moment)
    return day if day.reason != DATE_HELP else None


def _single(phrase: str, now: datetime, period: str | None) -> datetime | Bad:
    """Only a time (its next occurrence), only a date (ask for the time), or neither."""
    moment = parse_time(phrase, period=period)
    if isinstance(moment, time):
        today = now.date()
        if moment < now.time().replace(second=0, microsecond=0, tzinfo=None):
            today += timedelta(days=1)
        return datetime.combine(today, moment)
    day = parse_date(phrase, now.date())
    if isinstance(day, date):
        return Bad(texts.TIME_NEEDED_TOO)
    return day if day.reason != DATE_HELP else Bad(DATETIME_HELP)
