"""connectors.sms.smsc against the SMSC.ru fake over loopback: every outcome of a send, an
unknown outcome resolved through the id the adapter chose, status lookups, and that the
login, the password, the phone and the text never reach a URL or a log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from connectors.base import ChannelAuthError, ChannelUnavailable
from connectors.sms.base import SmsOutcomeUnknown, SmsRefused, SmsSent, SmsUnavailable
from connectors.sms.smsc import Smsc, read_send, read_status, split_sms_id
from connectors.sms.wire import Answer, Busy, NoAnswer
from tests.connectors.sms_helpers import FAST, PHONE, TEXT, closed_port_url
from tests.fakes.smsc import SmscFake, smsc_fake_fixture  # noqa: F401 - provides smsc_fake


def adapter(fake: SmscFake, **kwargs: object) -> Smsc:
    options: dict[str, object] = {"login": fake.login, "password": fake.password,
                                  "base_url": fake.url, "retry": FAST, "timeout": 0.5,
                                  **kwargs}
    return Smsc(**options)  # type: ignore[arg-type]


@pytest.fixture
async def smsc(smsc_fake: SmscFake) -> AsyncIterator[Smsc]:
    client = adapter(smsc_fake, sender="SVYAZ")
    yield client
    await client.close()


async def test_a_send_is_a_form_post_with_an_id_of_ours(smsc: Smsc, smsc_fake: SmscFake) -> None:
    result = await smsc.send(PHONE, TEXT)
    assert isinstance(result, SmsSent)
    [request] = smsc_fake.requests
    assert (request.method, request.path, request.query) == ("POST", "/sys/send.php", {})
    form = dict(request.form)
    message_id = form.pop("id")
    assert form == {"login": smsc_fake.login, "psw": smsc_fake.password, "phones": PHONE,
                    "mes": TEXT, "fmt": "3", "charset": "utf-8", "cost": "3",
                    "sender": "SVYAZ"}
    assert result.sms_id == f"{message_id}:{PHONE}"
    assert result.parts == 1
    assert result.cost == Decimal("2.95")
    assert [m.message_id for m in smsc_fake.messages] == [int(message_id)]


async def test_parts_and_cost_come_from_smsc(smsc: Smsc) -> None:
    result = await smsc.send(PHONE, "я" * 135)
    assert isinstance(result, SmsSent)
    assert (result.parts, result.cost) == (3, Decimal("8.85"))


async def test_each_send_chooses_a_new_id(smsc: Smsc) -> None:
    first, second = await smsc.send(PHONE, "один"), await smsc.send(PHONE, "два")
    assert isinstance(first, SmsSent)
    assert isinstance(second, SmsSent)
    assert first.sms_id != second.sms_id


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1, "other"), (2, "auth"), (3, "balance"), (4, "rate_limit"), (6, "sender"),
     (7, "bad_number"), (8, "bad_number"), (9, "rate_limit")],
)
async def test_error_codes_are_refusals_with_their_reason(
    smsc: Smsc, smsc_fake: SmscFake, code: int, reason: str
) -> None:
    smsc_fake.refuse(code)
    result = await smsc.send(PHONE, TEXT)
    assert isinstance(result, SmsRefused)
    assert (result.reason, result.code) == (reason, str(code))
    assert result.text
    assert smsc_fake.messages == []
    assert len(smsc_fake.requests) == 1  # a refusal is final: never retried


async def test_the_fake_refuses_as_smsc_does(smsc_fake: SmscFake) -> None:
    cases = [
        (adapter(smsc_fake, password="wrong"), "auth"),
        (adapter(smsc_fake, sender="NOT_APPROVED"), "sender"),
    ]
    for client, reason in cases:
        result = await client.send(PHONE, TEXT)
        await client.close()
        assert isinstance(result, SmsRefused)
        assert result.reason == reason
    smsc_fake.balance = Decimal("1")
    client = adapter(smsc_fake)
    result = await client.send(PHONE, TEXT)
    await client.close()
    assert isinstance(result, SmsRefused)
    assert result.reason == "balance"


async def test_the_same_text_twice_within_a_minute_is_rate_limited(smsc: Smsc) -> None:
    assert isinstance(await smsc.send(PHONE, TEXT), SmsSent)
    again = await smsc.send(PHONE, TEXT)
    assert isinstance(again, SmsRefused)
    assert (again.reason, again.code, again.retry_after) == ("rate_limit", "9", 60.0)


async def test_http_429_is_a_rate_limit_with_its_retry_after(
    smsc: Smsc, smsc_fake: SmscFake
) -> None:
    smsc_fake.answer_http(429, retry_after=12)
    result = await smsc.send(PHONE, TEXT)
    assert isinstance(result, SmsRefused)
    assert (result.reason, result.retry_after) == ("rate_limit", 12.0)


async def test_a_number_that_is_not_e164_is_refused_without_a_request(
    smsc: Smsc, smsc_fake: SmscFake
) -> None:
    result = await smsc.send("+7 916 123", TEXT)
    assert isinstance(result, SmsRefused)
    assert result.reason == "bad_number"
    assert smsc_fake.requests == []


async def test_an_unanswered_send_names_its_id_and_status_finds_it(
    smsc: Smsc, smsc_fake: SmscFake
) -> None:
    smsc_fake.hang()
    with pytest.raises(SmsOutcomeUnknown) as caught:
        await smsc.send(PHONE, TEXT)
    assert not isinstance(caught.value, ChannelUnavailable)
    assert len(smsc_fake.sent_requests("/sys/send.php")) == 1  # never sent again blind
    sms_id = caught.value.sms_id
    assert sms_id is not None
    assert split_sms_id(sms_id) == (str(smsc_fake.messages[0].message_id), PHONE)
    assert (await smsc.status(sms_id)).delivery == "pending"  # it had been accepted


async def test_a_gateway_error_on_send_is_unknown_and_status_says_not_found(
    smsc: Smsc, smsc_fake: SmscFake
) -> None:
    smsc_fake.answer_http(502)
    with pytest.raises(SmsOutcomeUnknown) as caught:
        await smsc.send(PHONE, TEXT)
    assert caught.value.sms_id is not None
    state = await smsc.status(caught.value.sms_id)
    assert (state.delivery, state.code) == ("not_found", "-3")  # safe to send again
    assert smsc_fake.messages == []


async def test_a_cut_connection_or_an_unreadable_answer_is_unknown(
    smsc: Smsc, smsc_fake: SmscFake
) -> None:
    smsc_fake.drop()
    with pytest.raises(SmsOutcomeUnknown):
        await smsc.send(PHONE, TEXT)
    smsc_fake.answer_http(200)  # a body that is not SMSC's JSON
    with pytest.raises(SmsOutcomeUnknown):
        await smsc.send(PHONE, TEXT + "!")
    assert len(smsc_fake.sent_requests("/sys/send.php")) == 2


async def test_no_connection_is_unavailable_after_retries() -> None:
    client = Smsc(login="l", password="p", base_url=closed_port_url(), retry=FAST)
    try:
        with pytest.raises(SmsUnavailable):
            await client.send(PHONE, TEXT)
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("status", "delivery", "text"),
    [(-1, "pending", "Ожидает отправки"), (0, "pending", "Передано оператору"),
     (1, "delivered", "Доставлено"), (3, "failed", "Просрочено"),
     (20, "failed", "Невозможно доставить"), (77, "pending", "")],
)
async def test_status_follows_the_message(
    smsc: Smsc, smsc_fake: SmscFake, status: int, delivery: str, text: str
) -> None:
    sent = await smsc.send(PHONE, TEXT)
    assert isinstance(sent, SmsSent)
    smsc_fake.set_status(smsc_fake.messages[0].message_id, status)
    state = await smsc.status(sent.sms_id)
    assert (state.sms_id, state.delivery, state.code, state.text) == (
        sent.sms_id, delivery, str(status), text)
    request = smsc_fake.sent_requests("/sys/status.php")[0]
    assert request.query == {}
    assert request.form["phone"] == PHONE


async def test_status_with_a_wrong_password_is_an_auth_error(smsc_fake: SmscFake) -> None:
    client = adapter(smsc_fake, password="wrong")
    try:
        with pytest.raises(ChannelAuthError):
            await client.status(f"5:{PHONE}")
    finally:
        await client.close()


async def test_status_is_retried_when_unanswered(smsc: Smsc, smsc_fake: SmscFake) -> None:
    smsc_fake.answer_http(503)
    assert (await smsc.status(f"5:{PHONE}")).delivery == "not_found"
    assert len(smsc_fake.sent_requests("/sys/status.php")) == 2


@pytest.mark.parametrize("sms_id", ["5", f"x:{PHONE}", "5:79161234567", "202612-1000001"])
async def test_a_foreign_sms_id_is_refused(smsc: Smsc, sms_id: str) -> None:
    with pytest.raises(ValueError, match="<id>:<E.164 phone>"):
        await smsc.status(sms_id)


async def test_credentials_phone_and_text_stay_out_of_urls_and_logs(
    smsc: Smsc, smsc_fake: SmscFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [smsc_fake.login, smsc_fake.password, PHONE, PHONE[1:], TEXT]
    errors: list[str] = []
    await smsc.send(PHONE, TEXT)
    smsc_fake.refuse(7)
    await smsc.send(PHONE, TEXT + "!")
    smsc_fake.hang()
    with pytest.raises(SmsOutcomeUnknown) as unknown:
        await smsc.send(PHONE, TEXT + "?")
    errors.append(str(unknown.value))
    closed = Smsc(login=smsc_fake.login, password=smsc_fake.password,
                  base_url=closed_port_url(), retry=FAST)
    with pytest.raises(SmsUnavailable) as unavailable:
        await closed.send(PHONE, TEXT)
    await closed.close()
    errors.append(str(unavailable.value))
    assert all(r.query == {} for r in smsc_fake.requests)
    assert "…67" in caplog.text
    for secret in secrets:
        assert secret not in caplog.text
        assert all(secret not in error for error in errors)
        assert secret not in repr(smsc)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"id": 7, "cnt": 2, "cost": "5.90"}, SmsSent(f"7:{PHONE}", 2, Decimal("5.90"))),
        ({"cnt": 1}, SmsSent(f"42:{PHONE}", 1)),  # no id echoed: the one the adapter chose
        ({"id": 7}, NoAnswer),  # neither a count nor an error: it does not say
        ({"error": "x", "error_code": 55}, SmsRefused("other", "55", "x")),
        (None, NoAnswer),
    ],
)
def test_read_send(body: object, expected: object) -> None:
    answer = Answer(200, body, "", None)
    if expected is NoAnswer:
        with pytest.raises(NoAnswer):
            read_send(answer, 42, PHONE)
    else:
        assert read_send(answer, 42, PHONE) == expected


def test_read_status_without_a_status_is_asked_again() -> None:
    with pytest.raises(Busy):
        read_status(Answer(200, {"last_date": ""}, "", None), f"5:{PHONE}")
    with pytest.raises(Busy):
        read_status(Answer(200, {"error": "x", "error_code": 9}, "", None), f"5:{PHONE}")
