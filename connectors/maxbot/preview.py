"""How a reply looks in MAX (``ChannelInfo.preview``): the ``POST /messages`` bodies
``render`` makes of it, read back as text and inline keyboard rows (the phone request
button included). It must not lay anything out itself.
"""

from __future__ import annotations

from connectors.channel import Shown, ShownButton
from flows.types import Reply


def preview(reply: Reply) -> tuple[Shown, ...]:
    from connectors.maxbot.render import render

    shown = []
    for body in render(reply):
        rows: tuple[tuple[ShownButton, ...], ...] = ()
        for attachment in body["attachments"]:
            payload = attachment.get("payload")
            if attachment.get("type") == "inline_keyboard" and isinstance(payload, dict):
                rows = tuple(tuple(ShownButton(b["text"], b.get("url")) for b in row)
                             for row in payload["buttons"])
        shown.append(Shown(body.get("text", ""), rows))
    return tuple(shown)
