"""The root of svyaz's exception tree; every part derives its errors from ``SvyazError``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.messages import Msg


class SvyazError(Exception):
    """Base of every error svyaz raises on purpose. ``said``: the sentence for the owner, in
    either language (a catalogue message), when it is an error an owner can meet and fix; the
    exception's own text stays English, for logs."""

    said: Msg | None = None  # (also for a subclass whose __init__ does not call this one)

    def __init__(self, *args: object, said: Msg | None = None) -> None:
        super().__init__(*args)
        self.said = said
