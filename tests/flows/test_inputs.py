"""flows.inputs: every input kind, table-driven, against a fixed now in Europe/Moscow."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.inputs import INPUT_KINDS, InputKind, Invalid, Option, Parsed, parse, ru_format
from flows.types import JSON

MSK = ZoneInfo("Europe/Moscow")
WEDNESDAY = datetime(2026, 12, 23, 14, 0, tzinfo=MSK)
FRIDAY = datetime(2026, 12, 25, 9, 30, tzinfo=MSK)
NEW_YEARS_EVE = datetime(2026, 12, 31, 23, 30, tzinfo=MSK)

SERVICES = (
    Option("cut", "Стрижка"),
    Option("color", "Окрашивание"),
    Option("style", "✨ Укладка"),
    Option("hedgehog", "Ёжик под ноль"),
)


def value(kind: InputKind, text: str, now: datetime = WEDNESDAY, **kw: object) -> JSON:
    result = parse(kind, text, now=now, **kw)  # type: ignore[arg-type]
    assert isinstance(result, Parsed), f"{kind} {text!r}: {result}"
    return result.value


def reason(kind: InputKind, text: str, now: datetime = WEDNESDAY, **kw: object) -> str:
    result = parse(kind, text, now=now, **kw)  # type: ignore[arg-type]
    assert isinstance(result, Invalid), f"{kind} {text!r} unexpectedly gave {result}"
    assert result.reason
    return result.reason


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Иван  ", "Иван"),
        ("{{ 7*7 }}", "{{ 7*7 }}"),
        ("привет 👋", "привет 👋"),
        ("a\nb", "a\nb"),
    ],
)
def test_text_is_stripped(text: str, expected: str) -> None:
    assert value("text", text) == expected


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "x" * 5000])
def test_text_empty_or_huge_is_invalid(text: str) -> None:
    reason("text", text)


# --------------------------------------------------------------------------- number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        (" 42 ", 42),
        ("1 200", 1200),
        ("1\u00a0200", 1200),
        ("12 345 678", 12345678),
        ("1,5", 1.5),
        ("3.5", 3.5),
        ("1 200,50", 1200.5),
        ("-2", -2),
        ("+7", 7),
        ("2,0", 2),
        (",5", 0.5),
        ("1200 ₽", 1200),
        ("1200руб", 1200),
        ("5 шт", 5),
        ("пять", 5),
        ("Двое", 2),
        ("ноль", 0),
    ],
)
def test_number(text: str, expected: float) -> None:
    got = value("number", text)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    "text", ["", "abc", "1 2", "1.2.3", "--1", "12abc", "один два", "1e5", "nan", "inf", "9" * 60]
)
def test_number_invalid(text: str) -> None:
    assert "число" in reason("number", text)


def test_number_limits() -> None:
    assert value("number", "5", minimum=1, maximum=10) == 5
    assert value("number", "1", minimum=1, maximum=10) == 1
    assert value("number", "10", minimum=1, maximum=10) == 10
    assert reason("number", "0", minimum=1, maximum=10) == "Нужно число от 1 до 10."
    assert reason("number", "11", minimum=1, maximum=10) == "Нужно число от 1 до 10."
    assert reason("number", "0,5", minimum=1.5) == "Нужно число не меньше 1,5."
    assert reason("number", "100", maximum=99) == "Нужно число не больше 99."


# --------------------------------------------------------------------------- choice


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Стрижка", "cut"),
        ("стрижка", "cut"),
        ("  СТРИЖКА!!! ", "cut"),
        ("стрижку", "cut"),
        ("окрашивания", "color"),
        ("Укладка", "style"),
        ("✨ укладка", "style"),
        ("ежик под ноль", "hedgehog"),
        ("Ёжик под ноль.", "hedgehog"),
        ("1", "cut"),
        (" 2 ", "color"),
        ("3.", "style"),
        ("4)", "hedgehog"),
        ("color", "color"),
    ],
)
def test_choice(text: str, expected: str) -> None:
    assert value("choice", text, options=SERVICES) == expected


@pytest.mark.parametrize("text", ["", "5", "0", "-1", "маникюр", "стр", "🙂", "1 2"])
def test_choice_invalid_lists_the_options(text: str) -> None:
    got = reason("choice", text, options=SERVICES)
    assert "1 — Стрижка" in got
    assert "4 — Ёжик под ноль" in got


def test_choice_text_beats_number_when_options_are_numbers() -> None:
    guests = (Option("g2", "2"), Option("g1", "1"))
    assert value("choice", "1", options=guests) == "g1"
    assert value("choice", "2", options=guests) == "g2"


def test_choice_ambiguous_word_form_is_invalid() -> None:
    options = (Option("a", "Стрижка мужская"), Option("b", "Стрижка женская"))
    reason("choice", "стрижку", options=options)
    assert value("choice", "мужскую стрижку", options=options) == "a"


def test_choice_short_words_must_match_exactly() -> None:
    options = (Option("yes", "Да"), Option("no", "Нет"), Option("later", "Позже"))
    assert value("choice", "да", options=options) == "yes"
    assert value("choice", "давайте позже", options=options) == "later"
    reason("choice", "дальше", options=options)
    reason("choice", "позжемнеперезвоните", options=options)


def test_choice_without_options_is_invalid() -> None:
    reason("choice", "1")


# --------------------------------------------------------------------------- yes / no

YES = [
    "да", "Да!", "ДА", "ага", "угу", "конечно", "Конечно!", "ок", "ok", "окей", "ладно",
    "хорошо", "yes", "Yes please", "sure", "yep", "да, конечно", "да да", "подтверждаю",
    "согласен", "согласна", "не против", "не возражаю", "почему бы и нет", "давайте",
    "+", "👍", "✅", "да 👍", "Да, записывайте", "дааа", "Конечноо",
]  # fmt: skip
NO = [
    "нет", "Нет.", "неа", "не", "no", "nope", "ни за что", "нет, спасибо", "не надо",
    "не хочу", "не нужно", "не согласен", "конечно нет", "да нет", "отказываюсь", "против",
    "-", "👎", "❌", "никогда", "нееет",
]  # fmt: skip
UNSURE = ["", "не знаю", "может быть", "наверное", "да и нет", "хорошо, но нет", "🙂🙃", "что?"]


@pytest.mark.parametrize("text", YES)
def test_yes(text: str) -> None:
    assert value("yesno", text) is True


@pytest.mark.parametrize("text", NO)
def test_no(text: str) -> None:
    assert value("yesno", text) is False


@pytest.mark.parametrize("text", UNSURE)
def test_yesno_unclear_asks_again(text: str) -> None:
    assert "«да» или «нет»" in reason("yesno", text)


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8 999 123-45-67", "+79991234567"),
        ("+7 (999) 1234567", "+79991234567"),
        ("9991234567", "+79991234567"),
        ("89991234567", "+79991234567"),
        ("+7 999 123 45 67", "+79991234567"),
        ("мой номер 8-999-123-45-67", "+79991234567"),
        ("8 (495) 123-45-67", "+74951234567"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_phone(text: str, expected: str) -> None:
    assert value("phone", text) == expected


@pytest.mark.parametrize("text", ["", "123", "телефон", "+7 999", "1" * 30, "8 000 000-00-00"])
def test_phone_invalid(text: str) -> None:
    assert "номер" in reason("phone", text)


def test_phone_other_region() -> None:
    assert value("phone", "650 253 0000", region="US") == "+16502530000"


# --------------------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ivan@example.ru", "ivan@example.ru"),
        ("  Ivan.Petrov@Mail.RU ", "Ivan.Petrov@mail.ru"),
        ("a+tag@sub.example.com", "a+tag@sub.example.com"),
        ("<ivan@example.ru>", "ivan@example.ru"),
        ("mailto:ivan@example.ru", "ivan@example.ru"),
        ("иван@почта.рф", "иван@почта.рф"),
    ],
)
def test_email(text: str, expected: str) -> None:
    assert value("email", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "", "ivan", "ivan@", "@example.ru", "ivan@example", "ivan@@example.ru", "iv an@example.ru",
        "ivan@example.r", "ivan..p@example.ru", ".ivan@example.ru", "ivan@-example.ru",
        "ivan@example..ru", "a" * 65 + "@example.ru", "ivan@example.ru, petr@example.ru",
    ],
)  # fmt: skip
def test_email_invalid(text: str) -> None:
    assert "почты" in reason("email", text)


# --------------------------------------------------------------------------- date
# WEDNESDAY is Wednesday 2026-12-23.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("сегодня", "2026-12-23"),
        ("Сегодня!", "2026-12-23"),
        ("завтра", "2026-12-24"),
        ("послезавтра", "2026-12-25"),
        ("в пятницу", "2026-12-25"),
        ("пятница", "2026-12-25"),
        ("в пт", "2026-12-25"),
        ("пт.", "2026-12-25"),
        ("в среду", "2026-12-23"),  # today counts
        ("во вторник", "2026-12-29"),
        ("в понедельник", "2026-12-28"),
        ("в воскресенье", "2026-12-27"),
        ("в эту субботу", "2026-12-26"),
        ("в следующую пятницу", "2027-01-01"),
        ("в следующий вторник", "2026-12-29"),
        ("25.12", "2026-12-25"),
        ("25/12", "2026-12-25"),
        ("23.12", "2026-12-23"),
        ("22.12", "2027-12-22"),  # past: next year
        ("25.12.2026", "2026-12-25"),
        ("25.12.26", "2026-12-25"),
        ("01.03.2020", "2020-03-01"),  # explicit year is taken as given
        ("25 декабря", "2026-12-25"),
        ("25 Декабря 2027 года", "2027-12-25"),
        ("25 дек", "2026-12-25"),
        ("25 дек.", "2026-12-25"),
        ("25-го декабря", "2026-12-25"),
        ("на 25 декабря", "2026-12-25"),
        ("1 января", "2027-01-01"),
        ("8 марта", "2027-03-08"),
        ("9 мая", "2027-05-09"),
        ("1 май", "2027-05-01"),
        ("29.02", "2028-02-29"),
        ("2026-12-25", "2026-12-25"),
        ("через 2 дня", "2026-12-25"),
        ("через неделю", "2026-12-30"),
        ("25 числа", "2026-12-25"),
        ("5 числа", "2027-01-05"),
        ("«завтра»", "2026-12-24"),
        ("завтра вечером", "2026-12-24"),
    ],
)
def test_date(text: str, expected: str) -> None:
    assert value("date", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("в пятницу", "2026-12-25"), ("сегодня", "2026-12-25"), ("в четверг", "2026-12-31")],
)
def test_date_on_a_friday(text: str, expected: str) -> None:
    assert value("date", text, now=FRIDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("завтра", "2027-01-01"), ("1 января", "2027-01-01"), ("31.12", "2026-12-31"),
     ("30.12", "2027-12-30"), ("в пятницу", "2027-01-01"), ("через неделю", "2027-01-07")],
)  # fmt: skip
def test_date_year_rollover(text: str, expected: str) -> None:
    assert value("date", text, now=NEW_YEARS_EVE) == expected


def test_date_uses_the_business_day_not_utc() -> None:
    # 00:30 in Moscow is still the previous day in UTC.
    just_after_midnight = datetime(2026, 12, 24, 0, 30, tzinfo=MSK)
    assert value("date", "сегодня", now=just_after_midnight) == "2026-12-24"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("31.02", "В феврале нет 31-го числа"),
        ("31 февраля", "В феврале нет 31-го числа"),
        ("31.04.2027", "В апреле нет 31-го числа"),
        ("29.02.2027", "В феврале нет 29-го числа"),
        ("12.13", "Месяца с номером 13 нет"),
        ("вчера когда-то", "Не удалось понять дату"),
        ("", "Не удалось понять дату"),
        ("25", "Не удалось понять дату"),
        ("32 декабря", "нет 32-го"),
        ("завтра " * 50, "Не удалось понять дату"),
        ("🎄🎄", "Не удалось понять дату"),
        ("2026-13-01", "Месяца с номером 13 нет"),
    ],
)
def test_date_invalid(text: str, fragment: str) -> None:
    assert fragment in reason("date", text)


def test_date_help_text() -> None:
    assert reason("date", "абракадабра") == (
        "Не удалось понять дату. Напишите, например: «завтра», «25.12» или «в пятницу»."
    )


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15:30", "15:30"),
        ("15.30", "15:30"),
        ("9:05", "09:05"),
        ("в 15", "15:00"),
        ("15", "15:00"),
        ("в 15:30", "15:30"),
        ("к 10", "10:00"),
        ("в 3", "03:00"),
        ("в 3 часа дня", "15:00"),
        ("в 3 дня", "15:00"),
        ("в 12 дня", "12:00"),
        ("в 9 утра", "09:00"),
        ("в 7 вечера", "19:00"),
        ("в 7:30 вечера", "19:30"),
        ("в 11 ночи", "23:00"),
        ("в 2 ночи", "02:00"),
        ("в 12 ночи", "00:00"),
        ("в 15 часов", "15:00"),
        ("15 ч 30 мин", "15:30"),
        ("полдень", "12:00"),
        ("в полдень", "12:00"),
        ("полночь", "00:00"),
        ("3 pm", "15:00"),
        ("в три часа дня", "15:00"),
        ("в восемь утра", "08:00"),
        ("в час", "01:00"),
        ("в час дня", "13:00"),
        ("полвосьмого", "07:30"),
        ("в половине восьмого вечера", "19:30"),
        ("половина первого", "12:30"),
        ("вечером в 7", "19:00"),
        ("в 7 вечером", "19:00"),
        ("утром в 9:15", "09:15"),
        ("00:00", "00:00"),
        ("23:59", "23:59"),
    ],
)
def test_time(text: str, expected: str) -> None:
    assert value("time", text) == expected


@pytest.mark.parametrize(
    "text", ["", "25:00", "15:60", "24:00", "завтра", "в 15 утра", "15:30:45:10", "1530", "🕒"]
)
def test_time_invalid(text: str) -> None:
    got = reason("time", text)
    assert "15:30" in got


# --------------------------------------------------------------------------- datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("завтра в 15:30", "2026-12-24T15:30"),
        ("Завтра, 15:30", "2026-12-24T15:30"),
        ("25 декабря в 3 часа дня", "2026-12-25T15:00"),
        ("25.12 в 10:00", "2026-12-25T10:00"),
        ("25.12 15.30", "2026-12-25T15:30"),
        ("в пятницу в 9 утра", "2026-12-25T09:00"),
        ("в 15:30 завтра", "2026-12-24T15:30"),
        ("2026-12-25T15:30", "2026-12-25T15:30"),
        ("2026-12-25 15:30", "2026-12-25T15:30"),
        ("сегодня в полдень", "2026-12-23T12:00"),
        ("1 января в 12:00", "2027-01-01T12:00"),
        ("в 15:00", "2026-12-23T15:00"),  # a time alone: its next occurrence
        ("в 10", "2026-12-24T10:00"),
        ("сегодня вечером в 7", "2026-12-23T19:00"),
        ("завтра в 7 вечера", "2026-12-24T19:00"),
        ("вечером в 7 завтра", "2026-12-24T19:00"),
        ("25 декабря вечером в 8:30", "2026-12-25T20:30"),
        ("в пятницу в час дня", "2026-12-25T13:00"),
        ("через 2 часа", "2026-12-23T16:00"),
        ("через час", "2026-12-23T15:00"),
        ("через 30 минут", "2026-12-23T14:30"),
        ("через полчаса", "2026-12-23T14:30"),
    ],
)
def test_datetime(text: str, expected: str) -> None:
    assert value("datetime", text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("завтра", "Укажите ещё и время"),
        ("31.02 в 10:00", "В феврале нет 31-го числа"),
        ("завтра в 25:00", "Не удалось понять дату и время"),
        ("когда-нибудь", "Не удалось понять дату и время"),
        ("", "Не удалось понять дату и время"),
    ],
)
def test_datetime_invalid(text: str, fragment: str) -> None:
    assert fragment in reason("datetime", text)


# --------------------------------------------------------------------------- never raises


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(INPUT_KINDS), text=st.text(max_size=300))
def test_parse_never_raises(kind: InputKind, text: str) -> None:
    result = parse(kind, text, now=WEDNESDAY, options=SERVICES, minimum=0, maximum=100)
    assert isinstance(result, Parsed | Invalid)
    if isinstance(result, Invalid):
        assert result.reason


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(INPUT_KINDS),
    text=st.text(alphabet="0123456789 .,:-+/вдзапятницусегоднячасдняутрадекабря", max_size=40),
)
def test_parse_never_raises_on_near_misses(kind: InputKind, text: str) -> None:
    assert isinstance(parse(kind, text, now=NEW_YEARS_EVE, options=SERVICES), Parsed | Invalid)


@pytest.mark.parametrize("kind", INPUT_KINDS)
@pytest.mark.parametrize(
    "text", ["x" * 100_000, "1" * 100_000, "🎉" * 1000, "\x00\ufeff", "\u202e"]
)
def test_huge_and_strange_input(kind: InputKind, text: str) -> None:
    assert isinstance(parse(kind, text, now=WEDNESDAY, options=SERVICES), Parsed | Invalid)


@pytest.mark.parametrize(("number", "shown"), [
    (3.0, "3"), (1.5, "1,5"), (1234567.5, "1234567,5"), (0.125, "0,125"), (-2.25, "-2,25"),
])
def test_limits_are_shown_in_full_not_in_e_notation(number: float, shown: str) -> None:
    """A limit of 1234567.5 read «не больше 1,23457e+06» (found by the mutation run)."""
    assert ru_format(number) == shown
