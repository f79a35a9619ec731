"""Regressions from the webhook fuzzer: lone surrogates, deep nesting and odd secrets.

Every ``Inbound`` a connector produces is valid Unicode (a lone surrogate becomes U+FFFD),
a body nested too deeply is a ``ValueError`` like any other bad JSON, and a secret with
characters that UTF-8 cannot encode simply does not match.
"""

from __future__ import annotations

import json

import pytest

from connectors.common import clean_inbound, clean_text, load_json, same_secret
from connectors.maxbot.parse import MaxPayloadError
from connectors.maxbot.parse import parse as parse_max
from connectors.vk.parse import parse_callback
from flows.types import ButtonEvent, ContactEvent, Inbound, StartEvent, TextEvent
from storage import codec
from tests.fakes import max_wire
from tests.fakes.vk_wire import message_event, message_new

BAD = "\ud800x\udfff"  # what JSON "\ud800x\udfff" decodes to
CLEAN = "\ufffdx\ufffd"
DEEP = "[" * 50_000 + "]" * 50_000


def _valid(inbound: Inbound | None) -> Inbound:
    assert inbound is not None
    codec.encode_inbound(inbound).encode("utf-8")  # strict: raises on any surrogate left
    return inbound


def test_clean_text_replaces_only_surrogates() -> None:
    assert clean_text(BAD) == CLEAN
    assert clean_text("привет 😀") == "привет 😀"


class _Unused:
    """Stands for the surrogate regex where clean text must not be scanned by it."""

    def __getattr__(self, name: str) -> None:
        raise AssertionError(f"the regex's {name} ran on clean text")


def test_clean_text_is_not_scanned_by_the_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text UTF-8 can encode (every text a platform sends but a broken one) is checked by the
    encoder, not the regex's scan: ASCII at once, the rest in one C pass."""
    import connectors.common

    monkeypatch.setattr(connectors.common, "_SURROGATE", _Unused())
    monkeypatch.setattr(codec, "_SURROGATE", _Unused())
    assert clean_text("привет 😀") == "привет 😀"
    valid = Inbound(channel="max", user_id="1", event_id="e", event=TextEvent("Оля"), name="Ив")
    assert clean_inbound(valid) is valid
    assert codec.dumps({"t": "Оля", "n": 1}) == '{"t":"Оля","n":1}'
    assert codec.dumps(["ascii"]) == '["ascii"]'


def test_clean_inbound_reaches_every_string_field() -> None:
    dirty = Inbound(channel="max", user_id=BAD, event_id=BAD, event=ContactEvent(BAD, BAD),
                    reply_to=BAD, callback_id=BAD, name=BAD)
    clean = clean_inbound(dirty)
    assert clean == Inbound(channel="max", user_id=CLEAN, event_id=CLEAN,
                            event=ContactEvent(CLEAN, CLEAN), reply_to=CLEAN,
                            callback_id=CLEAN, name=CLEAN)


def test_clean_inbound_copies_only_what_it_cleans() -> None:
    """An inbound with nothing to clean comes back as it is; a dirty event alone, or a dirty
    field alone, is cleaned in a copy."""
    valid = Inbound(channel="max", user_id="1", event_id="e", event=TextEvent("hi"), name="Ив")
    assert clean_inbound(valid) is valid
    assert clean_inbound(Inbound(channel="max", user_id="1", event_id="e",
                                 event=TextEvent(BAD))) == Inbound(
        channel="max", user_id="1", event_id="e", event=TextEvent(CLEAN))
    assert clean_inbound(Inbound(channel="max", user_id="1", event_id=BAD,
                                 event=TextEvent("hi"))) == Inbound(
        channel="max", user_id="1", event_id=CLEAN, event=TextEvent("hi"))


def test_vk_text_payload_ref_and_event_id_are_cleaned() -> None:
    text = _valid(parse_callback(json.loads(json.dumps(message_new(1, 5, BAD, event_id=BAD)))))
    assert (text.event, text.event_id) == (TextEvent(CLEAN), CLEAN)
    button = _valid(parse_callback(message_new(1, 5, "x", payload=json.dumps({"b": BAD}))))
    assert button.event == ButtonEvent(CLEAN, "x")
    start = _valid(parse_callback(message_new(1, 5, "x", ref=BAD)))
    assert start.event == StartEvent(CLEAN)
    press = _valid(parse_callback(message_event(1, 5, {"x": BAD}, callback_id=BAD)))
    assert press.callback_id == CLEAN
    assert isinstance(press.event, ButtonEvent)
    assert "\ufffd" in press.event.button


def test_vk_button_payload_nested_too_deeply_is_plain_text() -> None:
    inbound = _valid(parse_callback(message_event(1, 5, DEEP)))
    assert inbound.event == ButtonEvent(DEEP)


def test_max_text_name_phone_and_callback_are_cleaned() -> None:
    update = max_wire.message_created(5, BAD)
    update["message"]["sender"]["first_name"] = BAD
    text = _valid(parse_max(json.dumps(update)))
    assert (text.event, text.name) == (TextEvent(CLEAN), CLEAN)
    contact = _valid(parse_max(max_wire.contact(5, "+7900" + BAD, name=BAD)))
    assert contact.event == ContactEvent("+7900" + CLEAN, CLEAN)
    press = _valid(parse_max(max_wire.callback(5, BAD)))
    assert press.event == ButtonEvent(CLEAN)
    start = _valid(parse_max(max_wire.bot_started(5, BAD)))
    assert start.event == StartEvent(CLEAN)


def test_max_body_nested_too_deeply_is_a_payload_error() -> None:
    with pytest.raises(MaxPayloadError, match="nested too deeply"):
        parse_max(DEEP)


def test_max_callback_id_that_is_not_text_is_a_payload_error() -> None:
    # pydantic refuses a lone surrogate in a length-checked field: a 400, never a 500
    with pytest.raises(MaxPayloadError, match="callback_id"):
        parse_max(max_wire.callback(5, "x", callback_id=BAD))


def test_load_json_turns_deep_nesting_into_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        load_json(DEEP.encode())
    assert load_json(b'{"a": [1]}') == {"a": [1]}


@pytest.mark.parametrize("given", [chr(0xD800), chr(0xDCE9), "é", "", "secret-1 "])
def test_a_secret_that_is_not_clean_text_just_does_not_match(given: str) -> None:
    assert not same_secret(given, "secret-1")


def test_the_right_secret_matches() -> None:
    assert same_secret("секрет-1", "секрет-1")


def test_storage_codec_never_writes_a_lone_surrogate() -> None:
    raw = codec.encode_inbound(Inbound(channel="web", user_id="s", event_id="e",
                                       event=TextEvent(BAD)))
    assert codec.decode_inbound(raw.encode("utf-8")).event == TextEvent(CLEAN)
