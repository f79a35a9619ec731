"""``flows.broadcast``: what a broadcast must say, its message, and the quiet hours."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from flows.broadcast import BroadcastSpec, opens_at, reply_of
from flows.types import UNSUBSCRIBE_BUTTON_ID

MSK = ZoneInfo("Europe/Moscow")


def _spec(**kw: object) -> BroadcastSpec:
    base: dict[str, object] = {"title": "t", "kind": "ads", "segment": "all", "text": "Акция"}
    return BroadcastSpec.model_validate(base | kw)


def test_the_owner_must_mark_it_and_give_one_content() -> None:
    with pytest.raises(ValidationError, match="kind"):
        BroadcastSpec.model_validate({"title": "t", "segment": "all", "text": "x"})
    with pytest.raises(ValidationError, match="одно из двух: text"):
        _spec(flow="booking")
    with pytest.raises(ValidationError, match="одно из двух: url"):
        _spec(buttons=[{"text": "Сайт"}])
    with pytest.raises(ValidationError, match="рекламная рассылка уходит текстом"):
        _spec(text=None, flow="booking")
    _spec(kind="service", text=None, flow="booking")  # a service notice may start a flow
    with pytest.raises(ValidationError, match="21:00-09:00"):
        _spec(quiet="ночью")


def test_advertising_always_ends_with_unsubscribe_and_a_notice_does_not() -> None:
    ads = reply_of(_spec(buttons=[{"text": "Сайт", "url": "https://x.ru"},
                                  {"text": "Записаться", "button": "booking"}]))
    assert [(b.id, b.text, b.url) for b in ads.buttons] == [
        ("link0", "Сайт", "https://x.ru"), ("booking", "Записаться", None),
        (UNSUBSCRIBE_BUTTON_ID, "Отписаться", None)]
    assert reply_of(_spec(kind="service")).buttons == ()


@pytest.mark.parametrize(("hour", "minute", "opens"), [
    (20, 59, None), (21, 0, (6, 9)), (23, 30, (6, 9)), (0, 10, (5, 9)), (8, 59, (5, 9)),
    (9, 0, None), (12, 0, None)])
def test_quiet_hours_overnight(hour: int, minute: int, opens: tuple[int, int] | None) -> None:
    now = datetime(2026, 12, 5, hour, minute, tzinfo=MSK)
    found = opens_at("21:00-09:00", now)
    expected = None if opens is None else datetime(2026, 12, opens[0], opens[1], tzinfo=MSK)
    assert found == expected


def test_ads_are_quiet_at_night_by_default_and_a_notice_is_not() -> None:
    assert _spec().quiet_hours == "21:00-09:00"
    assert _spec(kind="service").quiet_hours is None
    assert opens_at("13:00-14:00", datetime(2026, 12, 5, 13, 30, tzinfo=MSK)) == datetime(
        2026, 12, 5, 14, 0, tzinfo=MSK)
