"""connectors.sms.smsc_callback: SMSC's status handler form, read and checked."""

from __future__ import annotations

import hashlib

from connectors.sms.callback import StatusUpdate
from connectors.sms.smsc_callback import parse, verify


def test_a_status_change_becomes_an_update_under_svyaz_s_sms_id() -> None:
    form = {"id": "4711", "phone": "79161234567", "status": "1", "ts": "1796000000"}
    assert parse(form) == StatusUpdate("4711:+79161234567", "delivered", 1, 1796000000)
    assert parse({**form, "status": "22"}) == StatusUpdate("4711:+79161234567", "failed", 22,
                                                           1796000000)
    assert parse({**form, "ts": ""}) == StatusUpdate("4711:+79161234567", "delivered", 1, None)


def test_what_is_no_status_of_an_sms_is_skipped() -> None:
    good = {"id": "4711", "phone": "79161234567", "status": "1"}
    for bad in ({**good, "id": "x"}, {**good, "phone": ""}, {**good, "status": "abc"},
                {**good, "status": "99"}, {"id": "4711"}):
        assert parse(bad) is None, bad


def test_md5_is_checked_when_it_is_sent() -> None:
    form = {"id": "4711", "phone": "79161234567", "status": "1"}
    signed = {**form, "md5": hashlib.md5(b"4711:79161234567:1:pw").hexdigest()}  # noqa: S324
    assert verify(signed, "pw")
    assert not verify(signed, "other")
    assert not verify({**signed, "status": "20"}, "pw")  # a changed status breaks it
    assert verify(form, "pw")  # unsigned: the secret path alone guards it
