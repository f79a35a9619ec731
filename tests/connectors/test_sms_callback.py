"""connectors.sms.callback: SMS.ru's delivery callback parsed, checked and answered ``100``,
with the SMS.ru fake posting real callbacks to the handler over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from connectors.sms.callback import (
    ANSWER,
    StatusUpdate,
    entries,
    handler,
    parse,
    parse_entry,
    signature,
    verify,
)
from tests.fakes.smsru import SmsRuFake, smsru_fake_fixture  # noqa: F401 - provides smsru_fake

Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def test_parse_reads_indexed_entries_in_order_and_skips_other_kinds() -> None:
    form = [
        ("data[2]", "sms_status\n202612-2\n104\n1782469894"),
        ("data[0]", "test\n1782404811"),
        ("data[1]", "sms_status\n202612-1\n103\n1782469893"),
        ("data[3]", "callcheck_status\n202626-4\n401\n1782405619"),
        ("hash", "ignored here"),
    ]
    assert parse(form) == [
        StatusUpdate("202612-1", "delivered", 103, 1782469893),
        StatusUpdate("202612-2", "failed", 104, 1782469894),
    ]


def test_parse_takes_php_style_entries_as_sent() -> None:
    form = [("data[]", "sms_status\nb\n102\n5"), ("data[]", "sms_status\na\n103\n6")]
    assert [u.sms_id for u in parse(form)] == ["b", "a"]
    assert [u.delivery for u in parse(form)] == ["pending", "delivered"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("sms_status\nX\n103\n7", StatusUpdate("X", "delivered", 103, 7)),
        ("sms_status\r\nX\r\n108\r\n7", StatusUpdate("X", "failed", 108, 7)),
        ("sms_status\nX\n150", StatusUpdate("X", "failed", 150, None)),
        ("sms_status\nX\n101\nsoon", StatusUpdate("X", "pending", 101, None)),
        ("sms_status\nX\n999\n7", StatusUpdate("X", "pending", 999, 7)),  # a new code: waits
        ("sms_status\n\n103\n7", None),
        ("sms_status\nX\nabc\n7", None),
        ("sms_status\nX", None),
        ("test\n1782404811", None),
        ("", None),
    ],
)
def test_parse_entry(entry: str, expected: StatusUpdate | None) -> None:
    assert parse_entry(entry) == expected


def test_verify_checks_the_hash_over_the_entries_in_order() -> None:
    data = ["sms_status\na\n103\n1", "sms_status\nb\n104\n2"]
    form = [("data[1]", data[1]), ("data[0]", data[0])]
    assert verify([*form, ("hash", signature("key", data))], "key")
    assert verify([*form, ("hash", signature("key", data).upper())], "key")
    assert not verify([*form, ("hash", signature("other", data))], "key")
    assert not verify([*form, ("hash", signature("key", data[::-1]))], "key")
    assert not verify(form, "key")
    assert entries(form) == data


async def test_the_handler_answers_100_after_handing_over_the_updates(
    smsru_fake: SmsRuFake, serve: Serve
) -> None:
    got: list[list[StatusUpdate]] = []

    async def on_status(updates: list[StatusUpdate]) -> None:
        got.append(updates)

    app = web.Application()
    app.router.add_post("/sms/status/s3cret", handler(on_status, api_id=smsru_fake.api_id))
    url = await serve(app) + "/sms/status/s3cret"
    status, body = await smsru_fake.emit_status(
        url, [("202612-1", 103), ("202612-2", 104)], extra=("test\n1782404811",)
    )
    assert (status, body) == (200, ANSWER)
    assert [(u.sms_id, u.delivery) for u in got[0]] == [
        ("202612-1", "delivered"), ("202612-2", "failed")]


async def test_a_check_without_statuses_is_answered_without_a_call(
    smsru_fake: SmsRuFake, serve: Serve
) -> None:
    calls: list[object] = []

    async def on_status(updates: list[StatusUpdate]) -> None:
        calls.append(updates)

    app = web.Application()
    app.router.add_post("/cb", handler(on_status))
    status, body = await smsru_fake.emit_status(await serve(app) + "/cb", [],
                                                extra=("test\n1",))
    assert (status, body, calls) == (200, ANSWER, [])


async def test_a_wrong_hash_is_refused_and_not_handed_over(
    smsru_fake: SmsRuFake, serve: Serve
) -> None:
    calls: list[object] = []

    async def on_status(updates: list[StatusUpdate]) -> None:
        calls.append(updates)

    app = web.Application()
    app.router.add_post("/cb", handler(on_status, api_id=smsru_fake.api_id))
    status, body = await smsru_fake.emit_status(await serve(app) + "/cb", [("x", 103)],
                                                api_id="someone else")
    assert status == 403
    assert body != ANSWER
    assert calls == []


async def test_a_failing_receiver_does_not_answer_100_so_sms_ru_retries(
    smsru_fake: SmsRuFake, serve: Serve
) -> None:
    async def on_status(updates: list[StatusUpdate]) -> None:
        raise RuntimeError("storage is down")

    app = web.Application()
    app.router.add_post("/cb", handler(on_status))
    status, body = await smsru_fake.emit_status(await serve(app) + "/cb", [("x", 103)])
    assert status == 500
    assert body != ANSWER
