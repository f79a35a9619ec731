"""``flows.broadcast``: what a broadcast must say, its message, and the quiet hours."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from flows.broadcast import BROADCASTS_FOLDER, BroadcastSpec, check_folder, opens_at, reply_of
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


def test_converts_at_names_a_step_and_check_refuses_one_that_does_not_exist(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValidationError, match="converts_at"):
        _spec(converts_at="booking/booked")
    with pytest.raises(ValidationError, match="converts_at .* или converted"):
        _spec(converts_at="booking.booked", converted="записан")
    (tmp_path / BROADCASTS_FOLDER).mkdir()
    (tmp_path / BROADCASTS_FOLDER / "b.yaml").write_text(
        "title: t\nkind: service\nsegment: all\ntext: x\nconverts_at: booking.boked\n",
        encoding="utf-8")
    steps = {"booking", "booking.day", "booking.booked"}
    [problem] = check_folder(tmp_path, ["all"], steps)
    assert (problem.line, problem.column) == (5, 14)
    assert problem.in_lang("ru").message == (
        "converts_at (шаг, на котором получатель считается «записался после рассылки»): "
        "'booking.boked': в сценарии 'booking' нет шага 'boked'; может быть, 'booked'?; "
        "шаги: booked, day")
    assert "the flow 'booking' has no step 'boked'" in problem.in_lang("en").message
    assert check_folder(tmp_path, ["all"], steps | {"booking.boked"}) == []
