"""Arrival-rate limiting, text splitting and button layout shared by the connectors."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from connectors.base import Capabilities, Priority
from connectors.common import ArrivalLimiter, layout_reply, split_text
from flows.backoff import backoff_delay
from flows.types import Button, Reply

CAPS = Capabilities(max_text=50, max_buttons=10, max_per_row=5, max_rows=6, max_label=12)


def most_in_window(stamps: list[float], window: float) -> int:
    """Most stamps less than ``window`` apart, counted as the platform fakes count arrivals."""
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, at in enumerate(stamps):
        while at - stamps[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_arrivals_stay_within_the_rate_whatever_the_latency() -> None:
    """Each request "arrives" at a random point between its grant and its answer, the worst
    case at either end; no window of ``per`` ever holds more than ``rate`` arrivals."""
    limiter = ArrivalLimiter(10, per=0.2)
    rng = random.Random(6)
    arrivals: list[float] = []

    async def one() -> None:
        latency = rng.choice([0.0, 0.005, rng.uniform(0, 0.06), 0.06])
        where = rng.choice([0.0, 1.0, rng.random()])
        async with limiter.slot(rng.choice(["live", "bulk"])):
            granted = time.monotonic()
            await asyncio.sleep(latency * where)
            arrivals.append(time.monotonic())
            await asyncio.sleep(latency * (1 - where))
        assert time.monotonic() >= granted

    await asyncio.gather(*(one() for _ in range(120)))
    assert len(arrivals) == 120
    assert most_in_window(arrivals, 0.2) <= 10
    assert limiter.taken <= 10


def test_a_start_time_window_would_let_late_arrivals_overlap() -> None:
    """Control for the test above: counting only grant times (the old limiter) lets a burst
    that arrives late overlap the next one, which the arrival check must catch."""
    grants = [0.0] * 10 + [0.2] * 10
    arrivals = [t + (0.19 if t == 0.0 else 0.0) for t in grants]
    assert most_in_window(grants, 0.2) == 10
    assert most_in_window(arrivals, 0.2) == 20


async def test_a_slot_stays_taken_for_a_window_after_its_answer() -> None:
    limiter = ArrivalLimiter(2, per=0.3)
    started = time.monotonic()
    async with limiter.slot():
        await asyncio.sleep(0.1)
    async with limiter.slot():
        pass
    assert time.monotonic() - started < 0.25  # a burst within the rate goes at once
    released = time.monotonic()
    async with limiter.slot():
        waited = time.monotonic() - released
    assert 0.15 <= waited <= 0.5  # the first slot frees 0.3 s after its answer at ~0.1 s


async def test_a_slot_in_flight_is_held_however_long_it_takes() -> None:
    limiter = ArrivalLimiter(1, per=0.05)
    order: list[str] = []

    async def slow() -> None:
        async with limiter.slot():
            await asyncio.sleep(0.3)
            order.append("slow answered")

    async def next_one() -> None:
        await asyncio.sleep(0.01)
        async with limiter.slot():
            order.append("next started")

    await asyncio.gather(slow(), next_one())
    assert order == ["slow answered", "next started"]


async def test_live_waiters_go_before_bulk_ones_queued_earlier() -> None:
    limiter = ArrivalLimiter(1, per=0.05)
    order: list[str] = []

    async def send(name: str, priority: Priority, after: float) -> None:
        await asyncio.sleep(after)
        async with limiter.slot(priority):
            order.append(name)

    await asyncio.gather(
        send("first", "bulk", 0.0),
        *(send(f"bulk{i}", "bulk", 0.01) for i in range(3)),
        send("live", "live", 0.02),
    )
    assert order == ["first", "live", "bulk0", "bulk1", "bulk2"]


async def test_a_cancelled_waiter_leaves_no_slot_taken() -> None:
    limiter = ArrivalLimiter(1, per=0.05)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire("bulk"))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release()
    await asyncio.sleep(0.08)
    assert limiter.taken == 0
    await asyncio.wait_for(limiter.acquire(), timeout=0.05)


async def test_bulk_grants_are_spread_and_a_live_reply_takes_a_free_slot_at_once() -> None:
    """Rule 2: ten bulk requests queued together get two slots now, two more a paced moment
    later (the clock stands still meanwhile), not all ten at once; a live reply is not paced.
    Without the rule the ten took every slot together and the slots kept freeing together:
    a live reply that came just after waited up to a second for MAX."""
    now = [100.0]
    limiter = ArrivalLimiter(10, per=1.0, clock=lambda: now[0])
    bulk = [asyncio.create_task(limiter.acquire("bulk")) for _ in range(10)]

    async def granted() -> int:
        for _ in range(20):
            await asyncio.sleep(0)
        return sum(task.done() for task in bulk)

    assert await granted() == 2
    live = asyncio.create_task(limiter.acquire("live"))
    await asyncio.wait_for(live, timeout=5)
    assert await granted() == 2
    now[0] += 2 * limiter.pace  # the pace's timer then serves the next two
    await asyncio.wait_for(asyncio.gather(*bulk[2:4]), timeout=5)
    assert await granted() == 4
    for task in bulk[4:]:
        task.cancel()
    await asyncio.gather(*bulk[4:], return_exceptions=True)


def test_arrival_limiter_rejects_zero_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        ArrivalLimiter(0)


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
