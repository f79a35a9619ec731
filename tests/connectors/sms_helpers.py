"""Helpers the SMS adapter tests share."""

from __future__ import annotations

import socket

from connectors.sms.wire import RetryPolicy

FAST = RetryPolicy(attempts=3, base=0.01, cap=0.05)
PHONE = "+79161234567"
TEXT = "Напоминаем: завтра в 15:30 вы записаны к мастеру Ольге."


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused: nothing is sent)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
