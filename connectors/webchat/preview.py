"""How a reply looks in the web chat (``ChannelInfo.preview``): the ``reply`` frames
``reply_frames`` makes of it for the widget, read back as text and buttons (the widget shows
each button on a line of its own). It must not lay anything out itself.
"""

from __future__ import annotations

import json

from connectors.channel import Shown, ShownButton
from flows.types import Reply

PREVIEW_KEY = "preview"  # (the frames' ids)


def preview(reply: Reply) -> tuple[Shown, ...]:
    from connectors.webchat.frames import reply_frames
    from connectors.webchat.server import WEB_CAPABILITIES

    shown = []
    for frame in reply_frames(reply, PREVIEW_KEY, WEB_CAPABILITIES):
        data = json.loads(frame)
        rows = tuple((ShownButton(b["text"], b.get("url")),) for b in data.get("buttons", ()))
        shown.append(Shown(data["text"], rows))
    return tuple(shown)
