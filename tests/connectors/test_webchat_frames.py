"""Web chat frames: strict parsing of client frames and the shape of server frames."""

from __future__ import annotations

import json

import pytest

from connectors.webchat.frames import (
    ButtonFrame,
    FrameError,
    Hello,
    TextFrame,
    WebHistoryItem,
    error_frame,
    parse_client_frame,
    reply_frames,
    welcome_frame,
)
from connectors.webchat.server import WEB_CAPABILITIES
from flows.types import Button, Reply


def test_hello_with_and_without_link() -> None:
    assert parse_client_frame('{"type":"hello","session":null}') == Hello(type="hello")
    frame = parse_client_frame('{"type":"hello","session":"t.1.s","link":"Ab_-9"}')
    assert frame == Hello(type="hello", session="t.1.s", link="Ab_-9")


def test_text_and_button() -> None:
    text = parse_client_frame('{"type":"text","text":"Привет 👋","id":"c-1"}')
    assert text == TextFrame(type="text", text="Привет 👋", id="c-1")
    button = parse_client_frame('{"type":"button","button":"yes","id":"c-2"}')
    assert button == ButtonFrame(type="button", button="yes", id="c-2")


def test_unknown_fields_are_ignored() -> None:
    frame = parse_client_frame('{"type":"text","text":"hi","id":"1","extra":{"a":1}}')
    assert isinstance(frame, TextFrame)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        "null",
        '{"type":"nope"}',
        '{"text":"no type","id":"1"}',
        '{"type":"text","text":5,"id":"1"}',  # never coerced
        '{"type":"text","text":"hi"}',  # id missing
        '{"type":"text","text":"hi","id":""}',
        '{"type":"text","text":"hi","id":"has space"}',
        '{"type":"text","text":"hi","id":"' + "x" * 65 + '"}',
        '{"type":"button","button":"","id":"1"}',
        '{"type":"button","button":7,"id":"1"}',
        '{"type":"hello","session":5}',
        '{"type":"hello","link":"bad token!"}',
        '{"type":"hello","session":"' + "x" * 1025 + '"}',
    ],
)
def test_bad_frames(raw: str) -> None:
    refused = parse_client_frame(raw)
    assert isinstance(refused, FrameError)
    assert refused.code == "bad_frame"


def test_text_limit_is_4_kb_of_utf8() -> None:
    at_limit = "я" * 2048  # 4096 bytes
    assert isinstance(
        parse_client_frame(json.dumps({"type": "text", "text": at_limit, "id": "1"})), TextFrame
    )
    over = json.dumps({"type": "text", "text": at_limit + "a", "id": "1"})
    assert parse_client_frame(over) == FrameError("too_long", "1")


def test_blank_text_is_refused() -> None:
    blank = '{"type":"text","text":"  \\n ","id":"1"}'
    assert parse_client_frame(blank) == FrameError("empty", "1")


def test_welcome_frame() -> None:
    history = [
        WebHistoryItem(
            "out", "Здравствуйте!", (Button("a", "Да"), Button("s", "Сайт", "https://x.ru"))
        ),
        WebHistoryItem("in", "<b>да</b>"),
    ]
    frame = json.loads(welcome_frame("tok", history))
    assert frame == {
        "type": "welcome",
        "session": "tok",
        "history": [
            {
                "direction": "out",
                "text": "Здравствуйте!",
                "buttons": [
                    {"id": "a", "text": "Да"},
                    {"id": "s", "text": "Сайт", "url": "https://x.ru"},
                ],
                "from": "bot",
            },
            {"direction": "in", "text": "<b>да</b>", "buttons": []},
        ],
    }


def test_reply_frame() -> None:
    reply = Reply("Телефон?", (Button("skip", "Пропустить"),), request_phone=True)
    (frame,) = [json.loads(f) for f in reply_frames(reply, "m-1", WEB_CAPABILITIES)]
    assert frame == {
        "type": "reply",
        "text": "Телефон?",
        "buttons": [{"id": "skip", "text": "Пропустить"}],
        "id": "m-1",
        "request_phone": True,
        "from": "bot",
    }


def test_long_reply_splits_with_buttons_on_the_last_part() -> None:
    text = ("Предложение номер один. " * 400).strip()
    reply = Reply(text, (Button("ok", "Ок"),), request_phone=True)
    frames = [json.loads(f) for f in reply_frames(reply, "m-2", WEB_CAPABILITIES)]
    assert len(frames) >= 3
    assert all(len(f["text"]) <= WEB_CAPABILITIES.max_text for f in frames)
    assert [f["id"] for f in frames] == ["m-2"] + [f"m-2#{i}" for i in range(1, len(frames))]
    assert [bool(f["buttons"]) for f in frames] == [False] * (len(frames) - 1) + [True]
    assert [f["request_phone"] for f in frames] == [False] * (len(frames) - 1) + [True]
    assert " ".join(f["text"] for f in frames).split() == text.split()


def test_too_many_buttons_become_a_numbered_list() -> None:
    buttons = tuple(Button(str(i), f"Вариант {i}") for i in range(1, 16))
    (frame,) = [
        json.loads(f) for f in reply_frames(Reply("Выберите:", buttons), "m", WEB_CAPABILITIES)
    ]
    assert frame["buttons"] == []
    assert "15. Вариант 15" in frame["text"]


def test_error_frame() -> None:
    frame = json.loads(error_frame("rate_limited"))
    assert frame["type"] == "error"
    assert frame["code"] == "rate_limited"
    assert frame["message"]


def test_a_refusal_names_the_frame_only_when_it_can_be_read_safely() -> None:
    long = json.dumps({"type": "text", "text": "я" * 2049, "id": "c-9"})
    assert parse_client_frame(long) == FrameError("too_long", "c-9")
    assert parse_client_frame('{"type":"nope","id":"has space"}') == FrameError("bad_frame")
    assert parse_client_frame("[" * 10_000) == FrameError("bad_frame")  # no RecursionError
    assert parse_client_frame('{"id":' + "[" * 10_000) == FrameError("bad_frame")
