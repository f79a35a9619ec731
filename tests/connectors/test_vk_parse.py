"""connectors.vk.parse on updates shaped as PROTOCOLS.md B4-B6 documents them."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.vk.parse import VkPayloadError, parse_callback
from flows.types import ButtonEvent, Inbound, PermissionEvent, StartEvent, TextEvent

# PROTOCOLS.md B6, the message_new illustration, verbatim.
MESSAGE_NEW: dict[str, Any] = {
    "group_id": 123456, "type": "message_new", "event_id": "a1b2c3", "v": "5.199",
    "object": {
        "message": {"id": 812, "date": 1767225600, "peer_id": 5551001, "from_id": 5551001,
                    "text": "Start", "out": 0, "conversation_message_id": 41,
                    "random_id": 0, "attachments": [], "fwd_messages": [],
                    "important": False, "is_hidden": False,
                    "payload": "{\"command\":\"start\"}", "ref": "promo42", "ref_source": "site"},
        "client_info": {"button_actions": ["text", "vkpay", "open_app", "location", "open_link",
                                           "callback"],
                        "keyboard": True, "inline_keyboard": True, "carousel": True,
                        "lang_id": 0}}}

# PROTOCOLS.md B6, the message_event illustration, verbatim.
MESSAGE_EVENT: dict[str, Any] = {
    "group_id": 123456, "type": "message_event", "event_id": "d4e5f6", "v": "5.199",
    "object": {"user_id": 5551001, "peer_id": 5551001,
               "event_id": "8c1f2a7d0e", "payload": {"cmd": "confirm", "order": 17},
               "conversation_message_id": 42}}


def message(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(MESSAGE_NEW)
    msg = body["object"]["message"]
    for key, value in changes.items():
        if value is None:
            msg.pop(key, None)
        else:
            msg[key] = value
    return body


def parsed(body: Any) -> Inbound:
    inbound = parse_callback(body)
    assert inbound is not None
    return inbound


def test_documented_start_with_ref_is_a_start_with_that_payload() -> None:
    inbound = parsed(MESSAGE_NEW)
    assert inbound == Inbound(channel="vk", user_id="5551001", event_id="a1b2c3",
                              event=StartEvent(payload="promo42"))
    assert inbound.account == "vk:5551001"


def test_start_button_without_ref_has_no_payload() -> None:
    assert parsed(message(ref=None, ref_source=None)).event == StartEvent(payload=None)


def test_first_message_with_deep_link_ref_is_a_start() -> None:
    body = message(payload=None, text="Привет", ref="link-Abc_123-xyz")
    assert parsed(body).event == StartEvent(payload="link-Abc_123-xyz")


def test_plain_text_with_emoji_and_cyrillic() -> None:
    body = message(payload=None, ref=None, text="Запишите меня 🙂 на завтра 👍🏽")
    assert parsed(body).event == TextEvent(text="Запишите меня 🙂 на завтра 👍🏽")


def test_text_button_payload_is_the_button_id() -> None:
    body = message(payload=json.dumps({"b": "day_2"}), ref=None, text="Завтра")
    assert parsed(body).event == ButtonEvent(button="day_2", text="Завтра")


def test_button_press_wins_over_ref() -> None:
    body = message(payload='{"b":"yes"}', ref="promo42", text="Да")
    assert parsed(body).event == ButtonEvent(button="yes", text="Да")


@pytest.mark.parametrize("payload", ["not json", '{"cmd":"other"}', "[1,2]", "17"])
def test_foreign_payload_is_just_text(payload: str) -> None:
    body = message(payload=payload, ref=None, text="Меню")
    assert parsed(body).event == TextEvent(text="Меню")


def test_group_chat_message_answers_to_the_chat() -> None:
    body = message(payload=None, ref=None, peer_id=2000000007, text="hi")
    inbound = parsed(body)
    assert (inbound.user_id, inbound.reply_to) == ("5551001", "2000000007")


def test_old_api_versions_without_message_wrapper() -> None:
    body = copy.deepcopy(MESSAGE_NEW)
    body["object"] = {"id": 1, "from_id": 7, "peer_id": 7, "text": "старый", "out": 0}
    assert parsed(body).event == TextEvent(text="старый")


@pytest.mark.parametrize("changes", [{"out": 1}, {"from_id": -123456, "peer_id": -123456}])
def test_own_echo_and_other_communities_are_ignored(changes: dict[str, Any]) -> None:
    assert parse_callback(message(**changes)) is None


def test_documented_callback_press_keeps_its_callback_id() -> None:
    inbound = parsed(MESSAGE_EVENT)
    assert inbound.event_id == "d4e5f6"
    assert inbound.callback_id == "8c1f2a7d0e"
    assert inbound.user_id == "5551001"
    # A payload we did not render is passed on verbatim; the engine treats it as unknown.
    assert inbound.event == ButtonEvent(button='{"cmd":"confirm","order":17}')


@pytest.mark.parametrize("payload", [{"b": "yes"}, '{"b":"yes"}'])
def test_callback_payload_as_object_or_json_string(payload: Any) -> None:
    body = copy.deepcopy(MESSAGE_EVENT)
    body["object"]["payload"] = payload
    assert parsed(body).event == ButtonEvent(button="yes")


def test_callback_start_command() -> None:
    body = copy.deepcopy(MESSAGE_EVENT)
    body["object"]["payload"] = {"command": "start"}
    assert parsed(body).event == StartEvent()


@pytest.mark.parametrize(("kind", "allowed"), [("message_allow", True), ("message_deny", False)])
def test_permission_events(kind: str, allowed: bool) -> None:
    obj: dict[str, Any] = {"user_id": 5551001}
    if allowed:
        obj["key"] = "promo"
    body = {"group_id": 123456, "type": kind, "event_id": "e1", "v": "5.199", "object": obj}
    assert parsed(body) == Inbound(channel="vk", user_id="5551001", event_id="e1",
                                   event=PermissionEvent(allowed=allowed))


@pytest.mark.parametrize("kind", ["message_typing_state", "group_join", "message_reply",
                                  "confirmation", "wall_post_new"])
def test_types_we_do_not_handle_are_ignored(kind: str) -> None:
    body = {"group_id": 123456, "type": kind, "event_id": "e2", "object": {"user_id": 1}}
    assert parse_callback(body) is None


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "ok",
        {},
        {"type": 5},
        {"type": "message_new", "object": MESSAGE_NEW["object"]},  # no event_id
        {"type": "message_new", "event_id": "x"},  # no object
        message(from_id=None),
        message(from_id="abc"),
        {"type": "message_event", "event_id": "x", "object": {"user_id": 1, "peer_id": 1}},
        {"type": "message_allow", "event_id": "x", "object": {"key": "k"}},
    ],
)
def test_malformed_bodies_raise_a_clear_error(body: Any) -> None:
    with pytest.raises(VkPayloadError):
        parse_callback(body)


def test_error_message_names_the_problem() -> None:
    with pytest.raises(VkPayloadError, match="from_id"):
        parse_callback(message(from_id=None))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["type", "event_id", "object", "message", "from_id",
                                       "peer_id", "user_id", "payload", "text", "out"]),
                      inner, max_size=5),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "event_id", "object", "group_id"]), json_values)
       | json_values)
def test_any_json_gives_an_inbound_none_or_vk_payload_error(body: Any) -> None:
    try:
        result = parse_callback(body)
    except VkPayloadError:
        return
    assert result is None or isinstance(result, Inbound)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["message_new", "message_event", "message_allow", "message_deny"]),
       json_values)
def test_any_object_of_a_handled_type_never_crashes(kind: str, obj: Any) -> None:
    with contextlib.suppress(VkPayloadError):
        parse_callback({"type": kind, "event_id": "e", "object": obj})
