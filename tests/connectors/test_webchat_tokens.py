"""Signed web chat session tokens: round trip, expiry, forgery, garbage."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.webchat.tokens import SessionTokens, new_session_id

KEY = b"k" * 32


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_issue_then_verify_gives_the_session_back() -> None:
    tokens = SessionTokens(KEY)
    session = tokens.issue()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", session.session_id)
    assert tokens.verify(session.token) == session.session_id


def test_session_ids_are_random() -> None:
    assert len({new_session_id() for _ in range(1000)}) == 1000


def test_reissue_keeps_the_id_and_renews_expiry() -> None:
    clock = Clock()
    tokens = SessionTokens(KEY, max_age=100, clock=clock)
    first = tokens.issue()
    clock.now += 90
    renewed = tokens.issue(first.session_id)
    clock.now += 90
    assert tokens.verify(first.token) is None
    assert tokens.verify(renewed.token) == first.session_id


def test_expired_token_is_none() -> None:
    clock = Clock()
    tokens = SessionTokens(KEY, max_age=3600, clock=clock)
    token = tokens.issue().token
    clock.now += 3600
    assert tokens.verify(token) is not None
    clock.now += 1
    assert tokens.verify(token) is None


def test_token_from_the_far_future_is_none() -> None:
    clock = Clock()
    tokens = SessionTokens(KEY, clock=clock)
    clock.now += 3600
    future = tokens.issue().token
    clock.now -= 3600
    assert tokens.verify(future) is None


def test_other_key_is_refused() -> None:
    token = SessionTokens(b"a" * 32).issue().token
    assert SessionTokens(b"b" * 32).verify(token) is None


def test_changing_any_part_breaks_the_signature() -> None:
    tokens = SessionTokens(KEY)
    session = tokens.issue()
    sid, issued, signature = session.token.split(".")
    other = new_session_id()
    assert tokens.verify(f"{other}.{issued}.{signature}") is None
    assert tokens.verify(f"{sid}.{int(issued) + 1}.{signature}") is None
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert tokens.verify(f"{sid}.{issued}.{flipped}") is None


@pytest.mark.parametrize(
    "garbage",
    [None, "", ".", "..", "a.b.c", "x" * 5000, 42, b"bytes", ["list"], "é.1.ü", "a.b.c.d"],
)
def test_garbage_is_none(garbage: object) -> None:
    assert SessionTokens(KEY).verify(garbage) is None


@given(st.text(max_size=200))
def test_verify_never_raises(text: str) -> None:
    assert SessionTokens(KEY).verify(text) is None


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SessionTokens(b"short")
