"""connectors.maxbot.render: Reply -> NewMessageBody within MAX's limits (A3, A8, A9).

Every rendered body is also checked against the fake's wire rules (``max_wire``), the same
rules the fake server enforces, so a render bug cannot hide behind a lenient test.
"""

from __future__ import annotations

import pytest

from connectors.maxbot.render import (
    CAPABILITIES,
    MAX_TEXT,
    PHONE_LABEL,
    NewMessageBody,
    choice_width,
    render,
)
from flows.types import Button, Reply
from tests.fakes.max_wire import message_problems


def _ok(bodies: list[NewMessageBody]) -> list[NewMessageBody]:
    for body in bodies:
        assert message_problems(dict(body)) == []
        assert len(body.get("text", "")) <= MAX_TEXT  # maxapi refuses 4000
    return bodies


def _rows(body: NewMessageBody) -> list[list[dict[str, str]]]:
    keyboards = [a for a in body["attachments"] if a["type"] == "inline_keyboard"]
    assert len(keyboards) <= 1
    return keyboards[0]["payload"]["buttons"] if keyboards else []  # type: ignore[index]


def _choices(n: int, label: str = "{i}") -> tuple[Button, ...]:
    return tuple(Button(id=f"opt{i}", text=label.format(i=i)) for i in range(1, n + 1))


def test_plain_text() -> None:
    assert _ok(render(Reply(text="Здравствуйте! 👋"))) == [
        {"attachments": [], "text": "Здравствуйте! 👋"}
    ]


def test_an_operator_s_message_is_signed_with_their_name() -> None:
    assert _ok(render(Reply(text="Добрый день!", operator="Анна"))) == [
        {"attachments": [], "text": "Анна: Добрый день!"}]
    assert render(Reply(text="", operator="Анна", image_url="https://x.example/a.png"))[0].get(
        "text") is None  # nothing to sign


def test_markdown_is_marked_only_when_asked() -> None:
    (body,) = _ok(render(Reply(text="**Итого:** 1 200 ₽", markdown=True)))
    assert body["format"] == "markdown"
    (plain,) = render(Reply(text="**not bold**"))
    assert "format" not in plain


def test_callback_and_link_buttons_match_the_documented_wire() -> None:
    reply = Reply(
        text="Подтверждаете?",
        buttons=(
            Button(id="yes", text="Да"),
            Button(id="no", text="Нет"),
            Button(id="site", text="Сайт", url="https://example.com"),
        ),
    )
    (body,) = _ok(render(reply))
    assert _rows(body) == [
        [
            {"type": "callback", "text": "Да", "payload": "yes"},
            {"type": "callback", "text": "Нет", "payload": "no"},
        ],
        [{"type": "link", "text": "Сайт", "url": "https://example.com"}],
    ]


def test_request_phone_adds_a_contact_button_on_its_own_row() -> None:
    (body,) = _ok(render(Reply(text="Ваш телефон?", request_phone=True)))
    assert _rows(body) == [[{"type": "request_contact", "text": PHONE_LABEL}]]


def test_long_labels_go_one_per_row_short_ones_share() -> None:
    long = (Button(id="a", text="Окрашивание волос"), Button(id="b", text="Стрижка"))
    assert [len(r) for r in _rows(render(Reply(text="?", buttons=long))[0])] == [1, 1]
    short = _choices(8, "{i}")
    assert [len(r) for r in _rows(render(Reply(text="?", buttons=short))[0])] == [4, 4]


def test_long_text_is_split_and_the_keyboard_rides_on_the_last_part() -> None:
    sentence = "Это длинное предложение с эмодзи 🎉 и кириллицей. "
    reply = Reply(text=sentence * 250, buttons=_choices(2), markdown=True)
    bodies = _ok(render(reply))
    assert len(bodies) == 4
    assert all(b["format"] == "markdown" for b in bodies)
    assert [bool(_rows(b)) for b in bodies] == [False, False, False, True]
    words = " ".join(b["text"] for b in bodies).split()
    assert words == (sentence * 250).split()


def test_text_of_exactly_the_limit_is_one_message() -> None:
    assert len(_ok(render(Reply(text="я" * MAX_TEXT)))) == 1
    assert len(_ok(render(Reply(text="я" * (MAX_TEXT + 1))))) == 2


def test_keyboard_at_the_limit_210_buttons_in_30_rows() -> None:
    (body,) = _ok(render(Reply(text="?", buttons=_choices(210, "{i}"))))
    rows = _rows(body)
    assert len(rows) == 30
    assert sum(map(len, rows)) == 210
    assert max(map(len, rows)) == 7


def test_over_the_limit_becomes_a_numbered_list() -> None:
    (body,) = _ok(render(Reply(text="Выберите:", buttons=_choices(211, "{i}"))))
    assert _rows(body) == []
    assert body["text"].startswith("Выберите:\n\n1. 1\n2. 2")
    assert body["text"].endswith("211. 211")


def test_phone_button_takes_one_of_the_30_rows() -> None:
    (body,) = _ok(render(Reply(text="?", buttons=_choices(203, "{i}"), request_phone=True)))
    rows = _rows(body)
    assert len(rows) == 30
    assert sum(map(len, rows)) == 204
    (over,) = _ok(render(Reply(text="?", buttons=_choices(204, "{i}"), request_phone=True)))
    assert _rows(over) == [[{"type": "request_contact", "text": PHONE_LABEL}]]


def test_many_long_options_widen_rather_than_overflow_30_rows() -> None:
    buttons = _choices(60, "Вариант номер {i}")
    (body,) = _ok(render(Reply(text="?", buttons=buttons)))
    rows = _rows(body)
    assert len(rows) == 30
    assert sum(map(len, rows)) == 60


def test_links_keep_three_or_fewer_per_row_next_to_choices() -> None:
    links = tuple(Button(id=f"l{i}", text=f"L{i}", url=f"https://e.com/{i}") for i in range(5))
    (body,) = _ok(render(Reply(text="?", buttons=_choices(20, "{i}") + links)))
    rows = _rows(body)
    assert all(len(r) <= 3 for r in rows if any(b["type"] == "link" for b in r))
    assert sum(map(len, rows)) == 25


def test_labels_are_shortened_to_64() -> None:
    (body,) = _ok(render(Reply(text="?", buttons=(Button(id="x", text="Ы" * 100),))))
    label = _rows(body)[0][0]["text"]
    assert len(label) == 64
    assert label.endswith("…")


def test_image_rides_on_the_first_part() -> None:
    reply = Reply(text="a " * 3000, image_url="https://e.com/p.png", buttons=_choices(1))
    first, last = _ok(render(reply))
    assert first["attachments"] == [{"type": "image", "payload": {"url": "https://e.com/p.png"}}]
    assert _rows(last)


def test_keyboard_without_text_and_empty_reply() -> None:
    (body,) = _ok(render(Reply(text="", buttons=_choices(2))))
    assert "text" not in body
    assert render(Reply(text="   ")) == []


@pytest.mark.parametrize(("labels", "width"), [(["Да", "Нет"], 4), (["Стрижка"], 2), ([], 1)])
def test_choice_width(labels: list[str], width: int) -> None:
    buttons = [Button(id=t, text=t) for t in labels]
    assert choice_width(buttons, CAPABILITIES) == width
