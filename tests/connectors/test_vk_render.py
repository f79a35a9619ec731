"""connectors.vk.render: messages.send parameters within VK's limits (PROTOCOLS.md B7, B8)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.vk.render import CAPABILITIES, MAX_TEXT, random_id, render
from flows.types import Button, Reply
from tests.fakes.vk_wire import keyboard_problem


def rendered(reply: Reply, **kwargs: Any) -> list[dict[str, str]]:
    return render(reply, CAPABILITIES, peer_id="5551001", message_key="out-1", **kwargs)


def keyboard_of(params: dict[str, str]) -> dict[str, Any]:
    assert keyboard_problem(params["keyboard"]) is None, params["keyboard"]
    value: dict[str, Any] = json.loads(params["keyboard"])
    return value


def actions(keyboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [button["action"] for row in keyboard["buttons"] for button in row]


def choices(n: int, label: str = "Вариант {i}") -> tuple[Button, ...]:
    return tuple(Button(id=f"o{i}", text=label.format(i=i)) for i in range(1, n + 1))


def test_text_and_buttons_make_one_call_with_an_inline_keyboard() -> None:
    reply = Reply("Какую услугу вы хотите?",
                  (Button("cut", "Стрижка"), Button("dye", "Окрашивание")))
    [params] = rendered(reply)
    assert params["peer_id"] == "5551001"
    assert params["message"] == "Какую услугу вы хотите?"
    assert int(params["random_id"]) == random_id("out-1", 0)
    keyboard = keyboard_of(params)
    assert keyboard["inline"] is True
    assert [(a["type"], a["label"], json.loads(a["payload"])) for a in actions(keyboard)] == [
        ("text", "Стрижка", {"b": "cut"}), ("text", "Окрашивание", {"b": "dye"})]
    assert all(isinstance(v, str) for v in params.values())


def test_plain_text_has_no_keyboard() -> None:
    assert rendered(Reply("Готово! 🎉")) == [
        {"peer_id": "5551001", "random_id": str(random_id("out-1", 0)), "message": "Готово! 🎉"}]


def test_an_operator_s_message_is_signed_with_their_name() -> None:
    [params] = rendered(Reply("Добрый день!", operator="Анна"))
    assert params["message"] == "Анна: Добрый день!"


def test_link_buttons_are_open_link_on_their_own_row() -> None:
    link = "https://pay.example/1"
    reply = Reply("Оплата", (Button("pay", "Оплатить", url=link), Button("no", "Нет")))
    keyboard = keyboard_of(rendered(reply)[0])
    assert keyboard["buttons"][-1] == [
        {"action": {"type": "open_link", "link": link, "label": "Оплатить", "payload": None}}]


def test_callback_buttons_when_asked() -> None:
    keyboard = keyboard_of(rendered(Reply("?", choices(2)), button_type="callback")[0])
    assert {a["type"] for a in actions(keyboard)} == {"callback"}


def test_exactly_ten_buttons_fit_the_inline_keyboard() -> None:
    keyboard = keyboard_of(rendered(Reply("Выберите", choices(10, "{i}")))[0])
    assert len(actions(keyboard)) == 10
    assert len(keyboard["buttons"]) <= 6
    assert all(len(row) <= 5 for row in keyboard["buttons"])


def test_ten_long_labels_still_fit_by_widening_rows() -> None:
    reply = Reply("Выберите", choices(10, "Очень длинный вариант номер {i}"))
    keyboard = keyboard_of(rendered(reply)[0])
    assert len(actions(keyboard)) == 10


def test_eleven_buttons_become_a_numbered_list() -> None:
    [params] = rendered(Reply("Выберите", choices(11)))
    assert "keyboard" not in params
    assert params["message"].startswith("Выберите\n\n1. Вариант 1\n2. Вариант 2")
    assert params["message"].endswith("11. Вариант 11")


def test_over_the_limit_links_stay_as_buttons() -> None:
    reply = Reply("Выберите", (*choices(10), Button("site", "Сайт", url="https://example.com")))
    [params] = rendered(reply)
    assert "10. Вариант 10" in params["message"]
    assert [a["type"] for a in actions(keyboard_of(params))] == ["open_link"]


def test_labels_are_cut_to_forty_characters() -> None:
    label = "Консультация специалиста по окрашиванию волос"  # 45 characters
    action = actions(keyboard_of(rendered(Reply("?", (Button("c", label),)))[0]))[0]
    assert len(action["label"]) == 40
    assert action["label"].endswith("…")


def test_payload_at_255_bytes_is_a_button() -> None:
    button_id = "x" * (255 - len('{"b":""}'))
    keyboard = keyboard_of(rendered(Reply("?", (Button(button_id, "Да"),)))[0])
    assert json.loads(actions(keyboard)[0]["payload"]) == {"b": button_id}


def test_payload_over_255_bytes_falls_back_to_the_numbered_list() -> None:
    # 124 Cyrillic letters: 248 bytes of UTF-8 inside the payload, 256 with the braces.
    reply = Reply("Выберите", (Button("я" * 124, "Да"), Button("n", "Нет")))
    [params] = rendered(reply)
    assert "keyboard" not in params
    assert params["message"] == "Выберите\n\n1. Да\n2. Нет"


def test_long_text_is_split_and_the_keyboard_rides_on_the_last_part() -> None:
    sentence = "Мы работаем каждый день с девяти до девяти 🙂. "
    text = sentence * 400  # ~18 000 characters
    calls = rendered(Reply(text, choices(2)))
    assert len(calls) >= 5
    assert all(len(c["message"]) <= MAX_TEXT for c in calls)
    assert ["keyboard" in c for c in calls] == [False] * (len(calls) - 1) + [True]
    assert " ".join(c["message"] for c in calls).split() == text.split()
    ids = [c["random_id"] for c in calls]
    assert len(set(ids)) == len(ids)
    assert all(c["message"].endswith(".") for c in calls)  # cut on sentence boundaries


def test_text_at_the_limit_is_one_message() -> None:
    assert len(rendered(Reply("ё" * MAX_TEXT))) == 1
    assert len(rendered(Reply("ё" * (MAX_TEXT + 1)))) == 2


def test_image_is_sent_as_a_link() -> None:
    [params] = rendered(Reply("Наш адрес", image_url="https://example.com/map.png"))
    assert params["message"] == "Наш адрес\nhttps://example.com/map.png"


def test_empty_text_with_buttons_still_carries_the_keyboard() -> None:
    [params] = rendered(Reply("", choices(2)))
    assert params["message"]
    assert len(actions(keyboard_of(params))) == 2


def test_blank_label_still_gives_a_valid_button() -> None:
    keyboard = keyboard_of(rendered(Reply("?", (Button("x", "   "), Button("y", "Да"))))[0])
    assert actions(keyboard)[0]["label"] == "…"


def test_random_id_is_stable_nonzero_signed_int32() -> None:
    values = {random_id(f"key-{n}", part) for n in range(2000) for part in range(3)}
    assert len(values) == 6000
    assert all(-(2**31) <= v < 2**31 and v != 0 for v in values)
    assert random_id("key-1", 0) == random_id("key-1", 0)
    assert rendered(Reply("a")) == rendered(Reply("a"))  # a re-send repeats the same ids


labels = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
buttons = st.builds(Button, id=st.text(min_size=1, max_size=140), text=labels,
                    url=st.none() | st.just("https://example.com/x"))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=9000), st.lists(buttons, max_size=14))
def test_every_rendering_is_acceptable_to_vk(text: str, btns: list[Button]) -> None:
    calls = rendered(Reply(text, tuple(btns)))
    assert calls
    for params in calls:
        assert 0 < len(params["message"]) <= MAX_TEXT
        if "keyboard" in params:
            keyboard_of(params)
    assert sum("keyboard" in c for c in calls) <= 1


@pytest.mark.parametrize("key", ["", "a", "outbox:1700000000000-0"])
def test_random_id_for_any_key(key: str) -> None:
    assert random_id(key, 0) != 0
