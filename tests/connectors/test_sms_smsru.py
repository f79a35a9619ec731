"""connectors.sms.smsru against the SMS.ru fake over loopback: every outcome of a send,
status lookups, and that the api_id, the phone and the text never reach a URL or a log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from connectors.base import ChannelAuthError, ChannelUnavailable
from connectors.sms.base import SmsOutcomeUnknown, SmsRefused, SmsSent, SmsUnavailable
from connectors.sms.smsru import SmsRu, read_send
from connectors.sms.wire import Answer, NoAnswer
from tests.connectors.sms_helpers import FAST, PHONE, TEXT, closed_port_url
from tests.fakes.smsru import SmsRuFake, smsru_fake_fixture  # noqa: F401 - provides smsru_fake


def adapter(fake: SmsRuFake, **kwargs: object) -> SmsRu:
    options: dict[str, object] = {"api_id": fake.api_id, "base_url": fake.url, "retry": FAST,
                                  "timeout": 0.5, **kwargs}
    return SmsRu(**options)  # type: ignore[arg-type]


@pytest.fixture
async def smsru(smsru_fake: SmsRuFake) -> AsyncIterator[SmsRu]:
    client = adapter(smsru_fake, sender="SVYAZ")
    yield client
    await client.close()


async def test_a_send_is_a_form_post_and_is_accepted(smsru: SmsRu, smsru_fake: SmsRuFake) -> None:
    result = await smsru.send(PHONE, TEXT)
    assert isinstance(result, SmsSent)
    assert result.sms_id in smsru_fake.messages
    assert result.parts == 1
    [request] = smsru_fake.requests
    assert (request.method, request.path, request.query) == ("POST", "/sms/send", {})
    assert request.form == {"api_id": smsru_fake.api_id, "to": PHONE[1:], "msg": TEXT,
                            "json": "1", "from": "SVYAZ"}


async def test_without_a_sender_no_from_is_sent(smsru_fake: SmsRuFake) -> None:
    client = adapter(smsru_fake)
    try:
        assert isinstance(await client.send(PHONE, "hi"), SmsSent)
    finally:
        await client.close()
    assert "from" not in smsru_fake.requests[0].form


async def test_a_long_text_counts_its_parts(smsru: SmsRu) -> None:
    result = await smsru.send(PHONE, "я" * 135)
    assert isinstance(result, SmsSent)
    assert result.parts == 3


@pytest.mark.parametrize(
    ("setup", "reason", "code"),
    [
        ("balance", "balance", "201"),
        ("sender", "sender", "204"),
        ("number", "bad_number", "202"),
        ("api_id", "auth", "200"),
        ("duplicate", "rate_limit", "231"),
        ("forbidden", "other", "216"),
    ],
)
async def test_refusals_carry_their_reason(
    smsru_fake: SmsRuFake, setup: str, reason: str, code: str
) -> None:
    sender, api_id = "SVYAZ", smsru_fake.api_id
    if setup == "balance":
        smsru_fake.balance = Decimal("1")
    elif setup == "sender":
        sender = "NOT_APPROVED"
    elif setup == "number":
        smsru_fake.refuse(202, per_number=True)
    elif setup == "api_id":
        api_id = "wrong"
    elif setup == "duplicate":
        smsru_fake.refuse(231, per_number=True)
    else:
        smsru_fake.refuse(216)
    client = adapter(smsru_fake, sender=sender, api_id=api_id)
    try:
        result = await client.send(PHONE, TEXT)
    finally:
        await client.close()
    assert isinstance(result, SmsRefused)
    assert (result.reason, result.code) == (reason, code)
    assert result.text  # SMS.ru's own words, for the log and the desk
    assert smsru_fake.messages == {}
    assert len(smsru_fake.requests) == 1  # a refusal is final: never retried


async def test_the_same_text_within_a_minute_says_when_to_retry(
    smsru: SmsRu, smsru_fake: SmsRuFake
) -> None:
    smsru_fake.refuse(231, per_number=True)
    result = await smsru.send(PHONE, TEXT)
    assert isinstance(result, SmsRefused)
    assert result.retry_after == 60.0


async def test_http_429_is_a_rate_limit_with_its_retry_after(
    smsru: SmsRu, smsru_fake: SmsRuFake
) -> None:
    smsru_fake.answer_http(429, retry_after=7)
    result = await smsru.send(PHONE, TEXT)
    assert isinstance(result, SmsRefused)
    assert (result.reason, result.retry_after) == ("rate_limit", 7.0)
    assert smsru_fake.messages == {}


async def test_a_number_that_is_not_e164_is_refused_without_a_request(
    smsru: SmsRu, smsru_fake: SmsRuFake
) -> None:
    result = await smsru.send("89161234567", TEXT)
    assert isinstance(result, SmsRefused)
    assert result.reason == "bad_number"
    assert smsru_fake.requests == []


async def test_service_unavailable_is_retried_then_sent(
    smsru: SmsRu, smsru_fake: SmsRuFake
) -> None:
    smsru_fake.refuse(220)
    result = await smsru.send(PHONE, TEXT)
    assert isinstance(result, SmsSent)
    assert len(smsru_fake.sent_requests("/sms/send")) == 2
    assert len(smsru_fake.messages) == 1


async def test_service_unavailable_every_time_is_unavailable(
    smsru: SmsRu, smsru_fake: SmsRuFake
) -> None:
    smsru_fake.refuse(220, times=FAST.attempts)
    with pytest.raises(SmsUnavailable):
        await smsru.send(PHONE, TEXT)
    assert smsru_fake.messages == {}


async def test_an_unanswered_send_is_outcome_unknown_and_not_sent_again(
    smsru: SmsRu, smsru_fake: SmsRuFake
) -> None:
    smsru_fake.hang()
    with pytest.raises(SmsOutcomeUnknown) as caught:
        await smsru.send(PHONE, TEXT)
    assert not isinstance(caught.value, ChannelUnavailable)  # never retried as "unavailable"
    assert caught.value.sms_id is None  # SMS.ru chooses ids: nothing to look up
    assert len(smsru_fake.messages) == 1  # the request had left: it was sent
    assert len(smsru_fake.sent_requests("/sms/send")) == 1


async def test_a_connection_cut_after_sending_is_outcome_unknown(
    smsru: SmsRu, smsru_fake: SmsRuFake
) -> None:
    smsru_fake.drop()
    with pytest.raises(SmsOutcomeUnknown):
        await smsru.send(PHONE, TEXT)
    assert len(smsru_fake.messages) == 1
    assert len(smsru_fake.sent_requests("/sms/send")) == 1


async def test_a_wrong_address_is_a_refusal_not_a_doubt(smsru_fake: SmsRuFake) -> None:
    client = adapter(smsru_fake, base_url=smsru_fake.url + "/nowhere")
    try:
        result = await client.send(PHONE, TEXT)
    finally:
        await client.close()
    assert isinstance(result, SmsRefused)
    assert (result.reason, result.code) == ("other", "http 404")


async def test_a_gateway_error_on_send_is_outcome_unknown(
    smsru: SmsRu, smsru_fake: SmsRuFake
) -> None:
    smsru_fake.answer_http(502)
    with pytest.raises(SmsOutcomeUnknown):
        await smsru.send(PHONE, TEXT)
    assert len(smsru_fake.requests) == 1


async def test_no_connection_is_unavailable_after_retries() -> None:
    client = SmsRu(api_id="x", base_url=closed_port_url(), retry=FAST)
    try:
        with pytest.raises(SmsUnavailable) as caught:
            await client.send(PHONE, TEXT)
    finally:
        await client.close()
    assert str(FAST.attempts) in str(caught.value)


async def test_status_follows_the_message(smsru: SmsRu, smsru_fake: SmsRuFake) -> None:
    sent = await smsru.send(PHONE, TEXT)
    assert isinstance(sent, SmsSent)
    pending = await smsru.status(sent.sms_id)
    assert (pending.delivery, pending.code) == ("pending", "100")
    smsru_fake.deliver(sent.sms_id, 103)
    delivered = await smsru.status(sent.sms_id)
    assert (delivered.delivery, delivered.code) == ("delivered", "103")
    assert delivered.cost == Decimal("3.49")
    assert delivered.text == "Сообщение доставлено"
    smsru_fake.deliver(sent.sms_id, 104)
    assert (await smsru.status(sent.sms_id)).delivery == "failed"
    assert smsru_fake.sent_requests("/sms/status")[0].form == {
        "api_id": smsru_fake.api_id, "sms_id": sent.sms_id, "json": "1"}


async def test_status_of_an_unknown_id_is_not_found(smsru: SmsRu) -> None:
    state = await smsru.status("000000-1")
    assert (state.delivery, state.code) == ("not_found", "-1")


async def test_status_with_a_wrong_api_id_is_an_auth_error(smsru_fake: SmsRuFake) -> None:
    client = adapter(smsru_fake, api_id="wrong")
    try:
        with pytest.raises(ChannelAuthError):
            await client.status("000000-1")
    finally:
        await client.close()


async def test_status_is_retried_when_unanswered(smsru: SmsRu, smsru_fake: SmsRuFake) -> None:
    smsru_fake.answer_http(502)
    state = await smsru.status("000000-1")
    assert state.delivery == "not_found"
    assert len(smsru_fake.sent_requests("/sms/status")) == 2


async def test_credentials_phone_and_text_stay_out_of_urls_and_logs(
    smsru: SmsRu, smsru_fake: SmsRuFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [smsru_fake.api_id, PHONE, PHONE[1:], TEXT]
    errors: list[str] = []
    await smsru.send(PHONE, TEXT)
    smsru_fake.refuse(202, per_number=True)
    await smsru.send(PHONE, TEXT)
    smsru_fake.hang()
    with pytest.raises(SmsOutcomeUnknown) as unknown:
        await smsru.send(PHONE, TEXT)
    errors.append(str(unknown.value))
    closed = SmsRu(api_id=smsru_fake.api_id, base_url=closed_port_url(), retry=FAST)
    with pytest.raises(SmsUnavailable) as unavailable:
        await closed.send(PHONE, TEXT)
    await closed.close()
    errors.append(str(unavailable.value))
    assert all(r.query == {} for r in smsru_fake.requests)
    assert "…67" in caplog.text  # the last two digits are all a log shows
    for secret in secrets:
        assert secret not in caplog.text
        assert all(secret not in error for error in errors)
        assert secret not in repr(smsru)


@pytest.mark.parametrize(
    "body",
    [None, [], {"status": "OK", "sms": {}}, {"status": "OK", "sms": {"79161234567": "OK"}}],
)
def test_an_ok_that_does_not_name_the_number_is_a_doubt(body: object) -> None:
    with pytest.raises(NoAnswer):
        read_send(Answer(200, body, "", None), PHONE[1:], TEXT)


def test_an_accepted_entry_without_an_id_is_a_doubt_not_a_refusal() -> None:
    body = {"status": "OK", "sms": {PHONE[1:]: {"status": "OK", "status_code": 100}}}
    with pytest.raises(NoAnswer):  # a refusal would let the ladder send it again
        read_send(Answer(200, body, "", None), PHONE[1:], TEXT)
