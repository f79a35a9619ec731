"""The web chat channel: WebSocket endpoint, signed sessions, embeddable widget, demo page."""

from connectors.webchat.frames import WebHistoryItem
from connectors.webchat.server import (
    WEB_CAPABILITIES,
    GreetingProvider,
    HistoryProvider,
    WebChat,
)
from connectors.webchat.tokens import Session, SessionTokens

__all__ = [
    "WEB_CAPABILITIES",
    "GreetingProvider",
    "HistoryProvider",
    "Session",
    "SessionTokens",
    "WebChat",
    "WebHistoryItem",
]
