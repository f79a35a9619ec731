"""How a reply looks in VK (``ChannelInfo.preview``): the messages ``render`` makes of it for
``messages.send``, read back as text and keyboard rows, so a preview shows exactly what the
connector would send (split text, the keyboard's rows, payloads too long as a numbered list).
It must not lay anything out itself.
"""

from __future__ import annotations

import json

from connectors.channel import Shown, ShownButton
from flows.types import Reply

PREVIEW_KEY = "preview"  # (the random_id it derives is not shown)


def preview(reply: Reply) -> tuple[Shown, ...]:
    from connectors.vk.render import EMPTY_TEXT, render  # (vk_api: only when previewing)

    shown = []
    for params in render(reply, peer_id="0", message_key=PREVIEW_KEY):
        rows: tuple[tuple[ShownButton, ...], ...] = ()
        if "keyboard" in params:
            rows = tuple(tuple(_button(b["action"]) for b in row)
                         for row in json.loads(params["keyboard"])["buttons"])
        text = params["message"]
        shown.append(Shown("" if text == EMPTY_TEXT and rows else text, rows))
    return tuple(shown)


def _button(action: dict[str, str]) -> ShownButton:
    return ShownButton(action["label"], action.get("link"))
