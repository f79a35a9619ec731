"""flows.inputs at its edges: every word of its vocabularies, and each limit and threshold at
the exact value where the answer changes (bench/mutants.md measures how much these pin)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from flows.inputs import InputKind, Invalid, Option, Parsed, parse, parse_phone
from flows.types import JSON

NOW = datetime(2026, 12, 23, 14, 0, tzinfo=ZoneInfo("Europe/Moscow"))
SERVICES = (Option("cut", "Стрижка"), Option("color", "Окрашивание"), Option("style", "Укладка"))


def value(kind: InputKind, text: str, **kw: object) -> JSON:
    result = parse(kind, text, now=NOW, **kw)  # type: ignore[arg-type]
    assert isinstance(result, Parsed), f"{kind} {text!r}: {result}"
    return result.value


def reason(kind: InputKind, text: str, **kw: object) -> str:
    result = parse(kind, text, now=NOW, **kw)  # type: ignore[arg-type]
    assert isinstance(result, Invalid), f"{kind} {text!r} unexpectedly gave {result}"
    return result.reason


def test_an_unknown_kind_is_not_understood() -> None:
    assert reason("colour", "красный") == "Не удалось понять ответ."  # type: ignore[arg-type]


# --------------------------------------------------------------------------- text


def test_text_limit_is_4000_characters_after_stripping() -> None:
    assert value("text", "я" * 4000) == "я" * 4000
    assert value("text", "  " + "я" * 4000 + "\n") == "я" * 4000
    assert reason("text", "я" * 4001) == (
        "Слишком длинный ответ: не больше 4000 символов, пожалуйста."
    )
    assert reason("text", " \n ") == "Напишите, пожалуйста, ответ текстом."


# --------------------------------------------------------------------------- number

NUMBER_WORDS = {
    "ноль": 0, "один": 1, "одна": 1, "одно": 1, "два": 2, "две": 2, "двое": 2, "три": 3,
    "трое": 3, "четыре": 4, "четверо": 4, "пять": 5, "пятеро": 5, "шесть": 6, "семь": 7,
    "восемь": 8, "девять": 9, "десять": 10,
}  # fmt: skip


@pytest.mark.parametrize(("word", "number"), NUMBER_WORDS.items())
def test_every_number_word_is_its_value(word: str, number: int) -> None:
    assert value("number", word) == number
    assert value("number", f" {word.upper()}! ") == number


@pytest.mark.parametrize(
    "unit",
    ["₽", "р", "р.", "руб", "руб.", "рублей", "рубля", "рубль", "шт", "шт.", "штук", "штука",
     "штуки", "%", "человек", "человека"],
)  # fmt: skip
def test_every_unit_after_a_number_is_dropped(unit: str) -> None:
    assert value("number", f"12 {unit}") == 12
    assert value("number", f"12{unit}") == 12


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1'200", 1200), ("1\u202f200", 1200), ("-,5", -0.5), ("-1,25", -1.25), ("007", 7)],
)
def test_number_separators_and_signs(text: str, expected: float) -> None:
    got = value("number", text)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("text", ["+", "-", ",", ".", "+,", "руб", "1,2,3", "1 20"])
def test_number_needs_digits_in_their_places(text: str) -> None:
    assert reason("number", text) == "Нужно число, например: 3 или 1 200."


def test_number_of_40_characters_is_read_41_is_not() -> None:
    assert value("number", "1" + "0" * 14 + " " * 40) == 10**14  # spaces around do not count
    assert value("number", "0" * 39 + "7") == 7
    assert "число" in reason("number", "0" * 40 + "7")


def test_integers_stay_int_while_a_float_holds_them_exactly() -> None:
    """Up to 2**53 a float keeps every integer; past it the value is kept a float."""
    assert value("number", "9007199254740991") == 2**53 - 1
    assert type(value("number", "-9007199254740991")) is int
    big = value("number", "9007199254740992")
    assert big == 2.0**53
    assert type(big) is float


def test_number_limits_each_alone_at_the_boundary() -> None:
    assert value("number", "2", minimum=2) == 2
    assert reason("number", "1,9", minimum=2) == "Нужно число не меньше 2."
    assert value("number", "2", maximum=2) == 2
    assert reason("number", "2,1", maximum=2) == "Нужно число не больше 2."
    assert reason("number", "0", minimum=0.5, maximum=2.5) == "Нужно число от 0,5 до 2,5."
    assert reason("number", "-3", minimum=-2) == "Нужно число не меньше -2."
    assert value("number", "0", minimum=0, maximum=0) == 0


# --------------------------------------------------------------------------- choice


def test_choice_by_number_forms() -> None:
    for text in ("№2", "# 2", "№ 2.", " 2 ) ", "02"):
        assert value("choice", text, options=SERVICES) == "color", text
    reason("choice", "2 2", options=SERVICES)
    reason("choice", "№", options=SERVICES)


def test_choice_number_counts_from_one_to_the_last_option() -> None:
    assert value("choice", "1", options=SERVICES) == "cut"
    assert value("choice", "3", options=SERVICES) == "style"
    reason("choice", "0", options=SERVICES)
    reason("choice", "4", options=SERVICES)


def test_choice_by_id_reads_it_as_words() -> None:
    options = (Option("hair_cut", "Стрижка"), Option("hair-color", "Окрашивание"))
    assert value("choice", "hair cut", options=options) == "hair_cut"
    assert value("choice", "HAIR COLOR", options=options) == "hair-color"


def test_choice_reason_lists_every_option_with_its_number() -> None:
    assert reason("choice", "маникюр", options=SERVICES) == (
        "Выберите вариант кнопкой или напишите его номер: "
        "1 — Стрижка; 2 — Окрашивание; 3 — Укладка."
    )
    assert reason("choice", "что-то", options=()) == "Не удалось понять ответ."


def test_choice_reads_the_first_200_characters() -> None:
    options = (Option("cake", "Торт"), Option("tea", "Чай"))
    assert value("choice", " " * 197 + "Чай", options=options) == "tea"
    reason("choice", " " * 198 + "Чай", options=options)


def test_an_option_without_words_never_fits_a_word_form() -> None:
    options = (Option("cut", "Стрижка"), Option("sparkle", "✨"))
    assert value("choice", "стрижку", options=options) == "cut"
    assert value("choice", "2", options=options) == "sparkle"


def test_word_forms_may_differ_in_the_last_two_letters_only() -> None:
    # "Стрижка" (7 letters): the first 5 must agree.
    assert value("choice", "стрижкой", options=SERVICES) == "cut"
    reason("choice", "стригу", options=SERVICES)
    # "Окрашивание" (11 letters): the first 9 must agree.
    assert value("choice", "окрашиванию", options=SERVICES) == "color"
    reason("choice", "окрашиваться", options=SERVICES)


def test_a_four_letter_word_keeps_its_four_letters() -> None:
    options = (Option("cake", "Торт"), Option("tea", "Чай"))
    assert value("choice", "торта", options=options) == "cake"
    reason("choice", "тор", options=options)
    reason("choice", "чая", options=options)  # three letters and shorter: exactly


def test_a_typed_word_may_be_three_letters_longer_not_four() -> None:
    options = (Option("cake", "Торт"), Option("tea", "Чай"))
    assert value("choice", "тортики", options=options) == "cake"
    reason("choice", "тортиком", options=options)


def test_every_word_of_an_option_must_be_typed() -> None:
    options = (Option("m", "Стрижка мужская"), Option("k", "Детская стрижка"))
    assert value("choice", "мужскую стрижку", options=options) == "m"
    assert value("choice", "стрижку детскую", options=options) == "k"
    reason("choice", "мужскую", options=options)


# --------------------------------------------------------------------------- yes / no

YES_WORDS = [
    "да", "ага", "угу", "ок", "окей", "конечно", "хорошо", "ладно", "верно", "точно",
    "правильно", "подтверждаю", "подтверждаем", "согласен", "согласна", "согласны",
    "разумеется", "давай", "давайте", "естественно", "безусловно", "именно", "пожалуй",
    "вполне", "записывайте", "поехали", "отлично", "супер", "хочу", "можно", "надо", "нужно",
    "буду", "будем", "го", "д", "ok", "okay", "yes", "yeah", "yep", "yup", "sure", "y",
]  # fmt: skip
NO_WORDS = [
    "нет", "неа", "нету", "против", "возражаю", "отказываюсь", "отказываемся", "отказ",
    "никогда", "нельзя", "н", "no", "nope", "nah", "not", "never", "n",
]  # fmt: skip
UNSURE = [
    "да не знаю", "да, но не уверен", "нет, не уверена", "может, да", "да, наверное",
    "возможно, да", "хорошо, подумаю", "да, посмотрим",
]  # fmt: skip


@pytest.mark.parametrize("text", UNSURE)
def test_a_yes_or_no_with_an_unsure_word_is_asked_again(text: str) -> None:
    assert reason("yesno", text) == "Ответьте, пожалуйста, «да» или «нет»."


@pytest.mark.parametrize(
    ("phrase", "answer"),
    [("почему бы и нет", True), ("Почему бы нет?", True), ("ещё бы!", True), ("а то", True),
     ("Of course", True), ("why not", True), ("да нет", False), ("конечно нет", False),
     ("ни за что", False), ("ни в коем случае", False), ("no way", False)],
)  # fmt: skip
def test_every_set_phrase_has_its_own_meaning(phrase: str, answer: bool) -> None:
    assert value("yesno", phrase) is answer


@pytest.mark.parametrize(
    ("mark", "answer"),
    [("+", True), ("👍", True), ("✅", True), ("✔", True), ("✔️", True), ("👌", True),
     ("🙂", True), ("😊", True), ("👍🏻", True), ("👍🏼", True), ("👍🏽", True), ("-", False),
     ("👎", False), ("❌", False), ("✖", False), ("🚫", False), ("👎🏻", False), ("👎🏼", False),
     ("👎🏽", False)],
)  # fmt: skip
def test_every_mark_alone_is_an_answer(mark: str, answer: bool) -> None:
    assert value("yesno", f" {mark} ") is answer


@pytest.mark.parametrize(("negator", "word"), [("не", "согласен"), ("ни", "да"), ("без", "да")])
def test_every_negator_turns_the_next_word(negator: str, word: str) -> None:
    assert value("yesno", f"{negator} {word}") is False
    assert value("yesno", f"{negator} нет") is True


@pytest.mark.parametrize("text", ["ни", "без", "нет, не"])
def test_a_negator_left_alone_is_no(text: str) -> None:
    assert value("yesno", text) is False


def test_a_negator_turns_only_the_word_after_it() -> None:
    assert value("yesno", "не вопрос да") is True
    assert reason("yesno", "да не") == "Ответьте, пожалуйста, «да» или «нет»."
    assert reason("yesno", "не не хочу") == "Ответьте, пожалуйста, «да» или «нет»."
    assert reason("yesno", "не не") == "Ответьте, пожалуйста, «да» или «нет»."


def test_long_letters_are_read_as_one() -> None:
    assert value("yesno", "угууу") is True
    assert value("yesno", "ооок") is True
    assert value("yesno", "неееа") is False


def test_yesno_reads_the_first_200_characters() -> None:
    assert value("yesno", "да" + " " * 198 + "нет") is True
    assert reason("yesno", "да" + " " * 197 + "нет")


# --------------------------------------------------------------------------- phone


def test_phone_text_of_100_characters_is_read_101_is_not() -> None:
    assert value("phone", "8 999 123-45-67".ljust(100, ".")) == "+79991234567"
    assert "номер" in reason("phone", "8 999 123-45-67".ljust(101, "."))


def test_phone_needs_seven_digits_even_where_fewer_are_a_number() -> None:
    assert value("phone", "410 1234", region="IS") == "+3544101234"  # Iceland: 7 digits
    assert reason("phone", "22158", region="SH") == (  # Saint Helena: 5 digits, refused
        "Не похоже на номер телефона. Напишите, например: +7 999 123-45-67."
    )


# --------------------------------------------------------------------------- e-mail


def test_email_limits_local_part_64_address_254() -> None:
    local = "a" * 64
    assert value("email", f"{local}@example.ru") == f"{local}@example.ru"
    domain = ".".join(["b" * 60] * 3) + "." + "c" * 55  # 238 characters
    longest = "a" * 15 + "@" + domain
    assert len(longest) == 254
    assert value("email", longest) == longest
    assert reason("email", "a" + longest) == (
        "Не похоже на адрес почты. Напишите, например: name@example.ru."
    )


def test_email_mailto_in_any_case_and_brackets() -> None:
    assert value("email", "MailTo:Ivan@Example.RU") == "Ivan@example.ru"
    assert value("email", " < ivan@example.ru > ") == "ivan@example.ru"


def test_parse_phone_reads_russian_numbers_by_default() -> None:
    assert parse_phone("8 999 123-45-67") == Parsed("+79991234567")


def test_email_keeps_its_own_letters_when_brackets_go() -> None:
    assert value("email", "<Xenia@example.ru>") == "Xenia@example.ru"
    assert value("email", "XX@example.ru") == "XX@example.ru"


def test_a_round_limit_is_written_in_full() -> None:
    assert reason("number", "2000000", maximum=1_000_000) == "Нужно число не больше 1000000."
