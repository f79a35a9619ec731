"""Rate limiting, text splitting and button layout shared by the connectors."""

from __future__ import annotations

import asyncio
import time

import pytest

from connectors.base import Capabilities
from connectors.common import RateLimiter, backoff_delay, layout_reply, split_text
from flows.types import Button, Reply

CAPS = Capabilities(max_text=50, max_buttons=10, max_per_row=5, max_rows=6, max_label=12)


async def test_rate_limiter_never_exceeds_rate_in_any_window() -> None:
    limiter = RateLimiter(20, per=0.2)
    stamps: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        stamps.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(70)))
    stamps.sort()
    assert len(stamps) == 70
    for i in range(len(stamps) - 20):
        # the 21st call after any call comes at least one window later
        assert stamps[i + 20] - stamps[i] >= 0.2 - 1e-3


async def test_rate_limiter_lets_a_burst_within_the_rate_through_at_once() -> None:
    limiter = RateLimiter(5, per=10.0)
    started = time.monotonic()
    for _ in range(5):
        await limiter.acquire()
    assert time.monotonic() - started < 1.0


def test_rate_limiter_rejects_zero_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0)


def test_backoff_grows_and_is_capped() -> None:
    assert 0.25 <= backoff_delay(0) <= 0.5
    assert 4.0 <= backoff_delay(4) <= 8.0
    assert backoff_delay(50, cap=3.0) <= 3.0


def test_split_text_prefers_sentence_boundaries() -> None:
    text = "Первое предложение. Второе предложение! Третье?"
    parts = split_text(text, 25)
    assert parts == ["Первое предложение.", "Второе предложение!", "Третье?"]


def test_split_text_prefers_lines_and_keeps_every_word() -> None:
    text = "строка один\nстрока два\n" + "слово " * 30
    parts = split_text(text, 40)
    assert all(0 < len(p) <= 40 for p in parts)
    assert " ".join(parts).split() == text.split()
    assert parts[0] == "строка один\nстрока два"


def test_split_text_cuts_a_giant_word_hard() -> None:
    parts = split_text("я" * 95, 40)
    assert [len(p) for p in parts] == [40, 40, 15]


def test_split_text_keeps_emoji_whole() -> None:
    text = "🙂" * 30
    parts = split_text(text, 7)
    assert "".join(parts) == text
    assert all(len(p) <= 7 for p in parts)


def test_split_text_short_and_empty() -> None:
    assert split_text("  привет ", 10) == ["привет"]
    assert split_text("   ", 10) == []


def _buttons(n: int) -> tuple[Button, ...]:
    return tuple(Button(id=f"b{i}", text=f"Вариант {i}") for i in range(1, n + 1))


def test_layout_fits_buttons_in_rows() -> None:
    layout = layout_reply(Reply("Выберите", _buttons(7)), CAPS)
    assert [len(r) for r in layout.rows] == [5, 2]
    assert layout.parts == ("Выберите",)


def test_layout_turns_too_many_buttons_into_a_numbered_list() -> None:
    layout = layout_reply(Reply("Выберите", _buttons(11)), CAPS)
    assert layout.rows == ()
    text = "\n".join(layout.parts)
    assert "1. Вариант 1" in text
    assert "11. Вариант 11" in text


def test_layout_keeps_link_buttons_on_their_own_rows_and_shortens_labels() -> None:
    reply = Reply(
        "Оплата",
        (Button("pay", "Оплатить заказ прямо сейчас", url="https://pay.example/1"),
         Button("later", "Позже")),
    )
    layout = layout_reply(reply, CAPS)
    assert layout.rows[0] == (Button("later", "Позже"),)
    assert layout.rows[1][0].url == "https://pay.example/1"
    assert len(layout.rows[1][0].text) <= 12
    assert layout.rows[1][0].text.endswith("…")


def test_layout_drops_link_buttons_on_a_channel_without_them() -> None:
    caps = Capabilities(max_text=50, max_buttons=10, max_per_row=5, max_rows=6, max_label=12,
                        link_buttons=False)
    layout = layout_reply(Reply("x", (Button("l", "Сайт", url="https://e.example"),)), caps)
    assert layout.rows == ()


def test_layout_respects_a_narrower_row() -> None:
    layout = layout_reply(Reply("x", _buttons(4)), CAPS, per_row=2)
    assert [len(r) for r in layout.rows] == [2, 2]
