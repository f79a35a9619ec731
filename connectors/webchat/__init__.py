"""The web chat channel: WebSocket endpoint, signed sessions, embeddable widget, demo page."""

from connectors.webchat.files import Brand
from connectors.webchat.frames import WebHistoryItem
from connectors.webchat.server import (
    WEB_CAPABILITIES,
    GreetingProvider,
    WebChat,
)
from connectors.webchat.sockets import HistoryProvider
from connectors.webchat.tokens import Session, SessionTokens

__all__ = [
    "WEB_CAPABILITIES",
    "Brand",
    "GreetingProvider",
    "HistoryProvider",
    "Session",
    "SessionTokens",
    "WebChat",
    "WebHistoryItem",
]
