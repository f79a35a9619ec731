"""The web chat channel: WebSocket endpoint, signed sessions, embeddable widget, demo page."""

from connectors.webchat.frames import WebHistoryItem
from connectors.webchat.server import WEB_CAPABILITIES, HistoryProvider, WebChat
from connectors.webchat.tokens import Session, SessionTokens

__all__ = [
    "WEB_CAPABILITIES",
    "HistoryProvider",
    "Session",
    "SessionTokens",
    "WebChat",
    "WebHistoryItem",
]
