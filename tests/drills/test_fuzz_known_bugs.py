"""Inputs the fuzzer found that made a running ``svyaz run`` answer 500 (fixed; regressions).

Each was a strict xfail naming the line that failed and the fix; now each must be answered
deliberately, and this module's bot log must stay free of unhandled errors.
"""

from __future__ import annotations

import json

from drill_bot import MAX_SECRET, VK_SECRET, SvyazBot, assert_alive_and_clean, http_status

from tests.fakes import max_wire
from tests.fakes.vk_wire import message_new

MAX_HEADERS = {"X-Max-Bot-Api-Secret": MAX_SECRET, "Content-Type": "application/json"}
DEEP = b"[" * 50_000 + b"]" * 50_000


def vk_body(**fields: object) -> bytes:
    return json.dumps({**message_new(123456, 5, "x"), "secret": VK_SECRET, **fields}).encode()


def test_vk_deeply_nested_body_gets_400(svyaz_bot: SvyazBot) -> None:
    assert http_status(svyaz_bot.url + "/vk/callback", DEEP) == 400


def test_max_text_with_lone_surrogate_is_not_a_500(svyaz_bot: SvyazBot) -> None:
    body = json.dumps(max_wire.message_created(5, "\ud800x")).encode()
    assert http_status(svyaz_bot.url + "/max/webhook", body, MAX_HEADERS) in (200, 400)


def test_vk_text_with_lone_surrogate_is_not_a_500(svyaz_bot: SvyazBot) -> None:
    body = json.dumps({**message_new(123456, 6, "\ud800x"), "secret": VK_SECRET}).encode()
    assert http_status(svyaz_bot.url + "/vk/callback", body) in (200, 400)


def test_vk_secret_with_lone_surrogate_gets_403(svyaz_bot: SvyazBot) -> None:
    assert http_status(svyaz_bot.url + "/vk/callback", vk_body(secret="\ud800")) == 403


def test_max_secret_header_with_latin1_byte_gets_403(svyaz_bot: SvyazBot) -> None:
    headers = {"X-Max-Bot-Api-Secret": "\u00e9", "Content-Type": "application/json"}
    assert http_status(svyaz_bot.url + "/max/webhook", b"{}", headers) == 403


def test_no_unhandled_error_in_the_log(svyaz_bot: SvyazBot) -> None:
    assert_alive_and_clean(svyaz_bot)
