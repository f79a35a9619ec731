"""connectors.maxbot.parse on updates shaped exactly like PROTOCOLS.md A6/A9."""

from __future__ import annotations

import copy
import importlib
import json
import re
from typing import Any

import pytest

from connectors.maxbot.parse import MaxPayloadError, parse, parse_vcard
from flows.types import (
    ButtonEvent,
    ContactEvent,
    Inbound,
    PermissionEvent,
    StartEvent,
    TextEvent,
)

MESSAGE_CREATED: dict[str, Any] = {
    "update_type": "message_created",
    "timestamp": 1767225600000,
    "user_locale": "ru",
    "message": {
        "sender": {
            "user_id": 5551001,
            "first_name": "Ivan",
            "last_name": None,
            "username": None,
            "is_bot": False,
            "last_activity_time": 1767225599000,
        },
        "recipient": {"chat_id": 90001, "chat_type": "dialog", "user_id": 7770001},
        "timestamp": 1767225600000,
        "body": {
            "mid": "mid.0000000000015f910000000000000003",
            "seq": 3,
            "text": "hello",
            "attachments": [],
            "markup": [],
        },
    },
}

BOT_STARTED: dict[str, Any] = {
    "update_type": "bot_started",
    "timestamp": 1767225600100,
    "chat_id": 90001,
    "user": {
        "user_id": 5551001,
        "first_name": "Ivan",
        "is_bot": False,
        "last_activity_time": 1767225600000,
    },
    "payload": "promo-42",
    "user_locale": "ru",
}

MESSAGE_CALLBACK: dict[str, Any] = {
    "update_type": "message_callback",
    "timestamp": 1767225601000,
    "user_locale": "ru",
    "callback": {
        "timestamp": 1767225601000,
        "callback_id": "f0e1d2c3-opaque",
        "payload": "order:17:confirm",
        "user": {"user_id": 5551001, "first_name": "Ivan", "is_bot": False},
    },
    "message": {
        "sender": {"user_id": 7770001, "first_name": "ShopBot", "is_bot": True},
        "recipient": {"chat_id": 90001, "chat_type": "dialog", "user_id": 5551001},
        "timestamp": 1767225590000,
        "body": {
            "mid": "mid.0000000000015f910000000000000002",
            "seq": 2,
            "text": "Confirm?",
            "attachments": [
                {
                    "type": "inline_keyboard",
                    "payload": {
                        "buttons": [
                            [{"type": "callback", "text": "Yes", "payload": "order:17:confirm"}]
                        ]
                    },
                }
            ],
        },
    },
}

USER_ADDED: dict[str, Any] = {
    "update_type": "user_added",
    "timestamp": 1767225602000,
    "chat_id": -7001234,
    "user": {"user_id": 5551002, "first_name": "Olga", "is_bot": False},
    "inviter_id": None,
    "is_channel": False,
}

CONTACT = {
    "type": "contact",
    "payload": {
        "vcf_info": "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ivan Petrov\r\n"
        "TEL;TYPE=cell:79991234567\r\nEND:VCARD\r\n",
        "hash": "<opaque>",
        "max_info": {"user_id": 5551001, "first_name": "Ivan", "is_bot": False},
    },
}


def _with_body(**body: Any) -> dict[str, Any]:
    update = copy.deepcopy(MESSAGE_CREATED)
    update["message"]["body"].update(body)
    return update


def test_message_created_is_text_from_the_sender() -> None:
    assert parse(MESSAGE_CREATED) == Inbound(
        channel="max",
        user_id="5551001",
        event_id="mid:mid.0000000000015f910000000000000003",
        event=TextEvent(text="hello"),
        reply_to="dialog:90001:5551001",
        name="Ivan",
    )


def test_json_text_and_bytes_are_accepted() -> None:
    text = json.dumps(MESSAGE_CREATED, ensure_ascii=False)
    assert parse(text) == parse(text.encode()) == parse(MESSAGE_CREATED)


def test_unicode_and_emoji_text_survive() -> None:
    inbound = parse(_with_body(text="Привет 👋🏽 — запись на 25.12?"))
    assert inbound is not None
    assert inbound.event == TextEvent(text="Привет 👋🏽 — запись на 25.12?")


def test_bot_started_carries_the_deep_link_payload() -> None:
    inbound = parse(BOT_STARTED)
    assert inbound is not None
    assert inbound.event == StartEvent(payload="promo-42")
    assert inbound.user_id == "5551001"
    assert inbound.reply_to == "dialog:90001:5551001"  # answered by user id; chat for re-sends
    assert inbound.event_id == "start:5551001:1767225600100"


@pytest.mark.parametrize("payload", [None, ""])
def test_bot_started_without_payload(payload: str | None) -> None:
    update = dict(BOT_STARTED, payload=payload)
    inbound = parse(update)
    assert inbound is not None
    assert inbound.event == StartEvent(payload=None)


def test_link_token_payload_reaches_the_start_event() -> None:
    inbound = parse(dict(BOT_STARTED, payload="link-AbC_12-xyz"))
    assert inbound is not None
    assert inbound.event == StartEvent(payload="link-AbC_12-xyz")


def test_message_callback_is_a_button_press_to_answer() -> None:
    inbound = parse(MESSAGE_CALLBACK)
    assert inbound == Inbound(
        channel="max",
        user_id="5551001",
        event_id="cb:f0e1d2c3-opaque",
        event=ButtonEvent(button="order:17:confirm", text="Yes"),
        reply_to="dialog:90001:5551001",
        callback_id="f0e1d2c3-opaque",
        name="Ivan",
    )


def test_callback_whose_message_was_deleted() -> None:
    update = dict(MESSAGE_CALLBACK, message=None)
    inbound = parse(update)
    assert inbound is not None
    assert inbound.event == ButtonEvent(button="order:17:confirm", text="")
    assert inbound.reply_to is None
    assert inbound.callback_id == "f0e1d2c3-opaque"


def test_bot_stopped_is_a_permission_denial() -> None:
    update = {
        "update_type": "bot_stopped",
        "timestamp": 1767225700000,
        "chat_id": 90001,
        "user": {"user_id": 5551001, "first_name": "Ivan", "is_bot": False},
        "user_locale": "ru",
    }
    inbound = parse(update)
    assert inbound is not None
    assert inbound.event == PermissionEvent(allowed=False)
    assert inbound.event_id == "stop:5551001:1767225700000"


def test_contact_from_request_contact_button() -> None:
    inbound = parse(_with_body(text=None, attachments=[CONTACT]))
    assert inbound is not None
    assert inbound.event == ContactEvent(phone="79991234567", name="Ivan Petrov")
    assert inbound.event_id == "mid:mid.0000000000015f910000000000000003"


def test_someone_elses_contact_card_is_not_the_customers_phone() -> None:
    other = copy.deepcopy(CONTACT)
    other["payload"]["max_info"]["user_id"] = 999
    inbound = parse(_with_body(text="вот номер жены", attachments=[other]))
    assert inbound is not None
    assert inbound.event == TextEvent(text="вот номер жены")


def test_ignored_updates() -> None:
    assert parse(USER_ADDED) is None
    assert parse(_with_body(text=None, attachments=[{"type": "sticker", "payload": {}}])) is None
    from_bot = copy.deepcopy(MESSAGE_CREATED)
    from_bot["message"]["sender"]["is_bot"] = True
    assert parse(from_bot) is None
    channel_post = copy.deepcopy(MESSAGE_CREATED)
    del channel_post["message"]["sender"]
    assert parse(channel_post) is None


def test_newer_attachment_and_chat_types_do_not_drop_the_text() -> None:
    update = _with_body(attachments=[{"type": "hologram", "payload": {"x": 1}}])
    update["message"]["recipient"]["chat_type"] = "supergroup"
    inbound = parse(update)
    assert inbound is not None
    assert inbound.event == TextEvent(text="hello")


def test_group_chat_messages_answer_in_the_chat() -> None:
    update = copy.deepcopy(MESSAGE_CREATED)
    update["message"]["recipient"] = {"chat_id": -7001234, "chat_type": "chat", "user_id": None}
    inbound = parse(update)
    assert inbound is not None
    assert inbound.user_id == "5551001"
    assert inbound.reply_to == "chat:-7001234"


def test_event_ids_differ_between_messages() -> None:
    a = parse(MESSAGE_CREATED)
    b = parse(_with_body(mid="mid.0000000000015f910000000000000004"))
    assert a is not None
    assert b is not None
    assert a.event_id != b.event_id


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"{not json", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        ("[1, 2]", "JSON object"),
        (42, "JSON object"),
        ({"timestamp": 1}, "update_type"),
        ({"update_type": "message_created"}, "timestamp"),
        ({"update_type": "message_created", "timestamp": 1}, "message"),
        (_with_body(mid=None), "mid"),
        ({**BOT_STARTED, "user": {"first_name": "x"}}, "user_id"),
        ({**MESSAGE_CALLBACK, "callback": {"timestamp": 1}}, "callback"),
    ],
)
def test_malformed_updates_raise_a_clear_error(raw: object, needle: str) -> None:
    with pytest.raises(MaxPayloadError, match=needle):
        parse(raw)


def _from_user(update: dict[str, Any], user_id: int) -> dict[str, Any]:
    changed = copy.deepcopy(update)
    for holder in (changed, changed.get("message"), changed.get("callback")):
        for key in ("user", "sender"):
            if isinstance(holder, dict) and isinstance(holder.get(key), dict):
                holder[key]["user_id"] = user_id
    return changed


@pytest.mark.parametrize("user_id", [0, -5])
@pytest.mark.parametrize("update", [MESSAGE_CREATED, BOT_STARTED, MESSAGE_CALLBACK],
                         ids=["message", "started", "callback"])
def test_an_update_from_no_user_is_refused(update: dict[str, Any], user_id: int) -> None:
    with pytest.raises(MaxPayloadError, match="user_id"):
        parse(_from_user(update, user_id))


def test_vcard_variants() -> None:
    assert parse_vcard("BEGIN:VCARD\nitem1.TEL:+7 999 123-45-67\nFN:Ольга\nEND:VCARD") == (
        "+7 999 123-45-67",
        "Ольга",
    )
    folded = "BEGIN:VCARD\r\nFN:Very\r\n  Long Name\r\nTEL:+79991234567\r\nEND:VCARD\r\n"
    assert parse_vcard(folded) == ("+79991234567", "Very Long Name")
    assert parse_vcard("garbage") == (None, None)


_LAX_ONLY = [  # what the strict pass refuses and the full way reads (or refuses) as before
    _from_user(MESSAGE_CREATED, "5551001"),  # type: ignore[arg-type]  # a number as a string
    {**MESSAGE_CREATED, "timestamp": 1767225600000.0},  # a float where an int goes
    {**BOT_STARTED, "update_type": "user_added"},  # a type svyaz does not act on
    {**MESSAGE_CALLBACK, "callback": {"timestamp": 1}},  # malformed
    _with_body(text="bad \ud800 half"),  # a lone surrogate: cleaned to U+FFFD
]


@pytest.mark.parametrize(
    "update",
    [MESSAGE_CREATED, BOT_STARTED, MESSAGE_CALLBACK, USER_ADDED, _with_body(attachments=[CONTACT]),
     {**BOT_STARTED, "update_type": "bot_stopped"}, *_LAX_ONLY],
)
def test_a_body_parses_as_its_decoded_json_does(update: dict[str, Any]) -> None:
    """The bytes of a body (strict pass first) and the decoded object (the full way) give the
    same ``Inbound``, ``None`` or refusal."""
    body = json.dumps(update).encode()
    try:
        expected: object = parse(update)
    except MaxPayloadError as exc:
        with pytest.raises(MaxPayloadError, match=re.escape(str(exc))):
            parse(body)
        return
    assert parse(body) == expected


@pytest.mark.parametrize("update", [MESSAGE_CREATED, BOT_STARTED, MESSAGE_CALLBACK])
def test_a_well_formed_body_is_read_in_one_pass(
    monkeypatch: pytest.MonkeyPatch, update: dict[str, Any]
) -> None:
    """The usual update never takes the full way (``json.loads``, then the models)."""
    expected = parse(update)
    module = importlib.import_module("connectors.maxbot.parse")  # (the package's ``parse``
    monkeypatch.setattr(module, "_load", _not_called)  # is the function of that name)
    assert parse(json.dumps(update).encode()) == expected


def _not_called(raw: object) -> dict[str, object]:
    raise AssertionError("took the full way")
