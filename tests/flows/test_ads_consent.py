"""Advertising consent (``consent: {purpose: ads}``), the unsubscribe command and ``tag:``:
what the engine emits as data, and what ``svyaz check`` says about them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from flows import loader
from flows.engine import advance
from flows.model import FlowSet
from flows.schema import json_schema
from flows.texts import DEFAULT_UNSUBSCRIBED
from flows.types import (
    UNSUBSCRIBE_BUTTON_ID,
    UNSUBSCRIBED_VERSION,
    ButtonEvent,
    RecordConsent,
    SetTags,
    TextEvent,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))

FLOW = """
flow: offers
triggers: [{text: [акции]}]
steps:
  pd:
    ask: Согласны на обработку персональных данных?
    consent: {policy: "https://example.ru/pd", version: pd-1}
    next: {yes: ads, no: ads}
  ads:
    ask: Присылать вам акции и скидки?
    consent: {policy: "https://example.ru/ads", version: ads-2, purpose: ads}
    next: {yes: vip, no: bye}
  vip:
    tag: [vip, акции]
    say: Будем присылать!
    end: true
  bye:
    say: Хорошо.
"""


def _folder(tmp_path: Path, flow: str = FLOW, bot: str | None = None) -> Path:
    (tmp_path / "offers.yaml").write_text(dedent(flow), encoding="utf-8")
    if bot is not None:
        (tmp_path / "_bot.yaml").write_text(dedent(bot), encoding="utf-8")
    return tmp_path


@pytest.fixture
def flows(tmp_path: Path) -> FlowSet:
    return loader.load(_folder(tmp_path))


def test_an_ads_consent_is_recorded_apart_from_personal_data(flows: FlowSet) -> None:
    started = advance(flows, None, TextEvent("акции"), NOW)
    pd = advance(flows, started.state, TextEvent("нет"), NOW)
    assert pd.effects == (RecordConsent(granted=False, text_version="pd-1", at=NOW),)
    ads = advance(flows, pd.state, TextEvent("да"), NOW)
    assert ads.effects == (
        RecordConsent(granted=True, text_version="ads-2", at=NOW, purpose="ads"),
        SetTags(("vip", "акции")),
    )
    assert ads.state.consent is False  # the ads answer does not stand for personal data
    assert [r.text for r in ads.replies] == ["Будем присылать!"]


@pytest.mark.parametrize("said", ["стоп", "Отписаться", "СТОП!", "/stop"])
def test_the_words_withdraw_the_ads_consent_anywhere(flows: FlowSet, said: str) -> None:
    asked = advance(flows, None, TextEvent("акции"), NOW)
    turn = advance(flows, asked.state, TextEvent(said), NOW)
    assert turn.effects == (RecordConsent(granted=False, text_version=UNSUBSCRIBED_VERSION,
                                          at=NOW, purpose="ads"),)
    assert [r.text for r in turn.replies] == [DEFAULT_UNSUBSCRIBED]
    assert turn.state.stack == ()  # and the dialogue stops, as «стоп» always did


def test_the_unsubscribe_button_withdraws_it_too(flows: FlowSet) -> None:
    turn = advance(flows, None, ButtonEvent(UNSUBSCRIBE_BUTTON_ID, "Отписаться"), NOW)
    assert turn.effects == (RecordConsent(granted=False, text_version=UNSUBSCRIBED_VERSION,
                                          at=NOW, purpose="ads"),)


def test_a_choice_worded_stop_is_still_an_answer(tmp_path: Path) -> None:
    flows = loader.load(_folder(tmp_path, """
        flow: q
        triggers: [{text: [вопрос]}]
        steps:
          q:
            ask: Продолжить?
            choice: {go: Дальше, halt: Стоп}
            next: {go: done, halt: done}
          done:
            say: Ок.
    """))
    asked = advance(flows, None, TextEvent("вопрос"), NOW)
    turn = advance(flows, asked.state, TextEvent("стоп"), NOW)
    assert turn.effects == ()
    assert [r.text for r in turn.replies] == ["Ок."]


def test_check_names_a_bad_tag_and_a_word_in_two_commands(tmp_path: Path) -> None:
    folder = _folder(tmp_path, FLOW.replace("[vip, акции]", "[vip, 'Не метка']"), bot="""
        commands:
          cancel: [отмена, стоп]
          unsubscribe: [стоп, отписаться]
    """)
    _, problems = loader.check(folder, lang="en")
    said = "\n".join(str(p) for p in problems)
    assert "'Не метка' is not a valid tag" in said
    assert "the word «стоп» is in both 'cancel' and 'unsubscribe'" in said
    _, problems = loader.check(folder, lang="ru")
    said = "\n".join(str(p) for p in problems)
    assert "'Не метка' — не годится как метка" in said


def test_a_word_an_older_bot_gave_cancel_keeps_meaning_cancel(tmp_path: Path) -> None:
    # A _bot.yaml written before «стоп» became the unsubscribe word's default still checks,
    # and «стоп» still cancels there: the owner's word leaves the other command's defaults.
    folder = _folder(tmp_path, FLOW, bot="""
        commands:
          cancel: [отмена, стоп]
    """)
    flows, problems = loader.check(folder)
    assert flows is not None
    assert [p for p in problems if p.severity == "error"] == []
    assert flows.commands["стоп"] == "cancel"
    assert flows.commands["отписаться"] == "unsubscribe"


def test_the_schema_offers_the_purpose_and_the_tag() -> None:
    schema = json_schema()
    defs: dict[str, dict[str, dict[str, object]]] = schema["$defs"]  # type: ignore[assignment]
    assert "tag" in defs["Step"]["properties"]
    purpose = defs["Consent"]["properties"]["purpose"]
    assert purpose["enum"] == ["personal_data", "ads"]
