"""Pure rendering of a channel-neutral ``Reply`` into MAX ``NewMessageBody`` objects (A8, A9).

Owns: MAX's message limits (text length, keyboard size per PROTOCOLS.md A3), the button
layout within them, and the wire shape of callback, link and request_contact buttons.

Must not: do I/O or talk to maxapi; the client sends what this returns, unchanged in meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal, NotRequired, TypedDict

from connectors.base import Capabilities
from connectors.common import layout_reply, signed
from connectors.texts import MAX_PHONE_BUTTON
from flows.types import Button, Reply

# The schema allows 4000 characters, but maxapi rejects ``len(text) >= 4000`` client-side.
MAX_TEXT = 3999
MAX_BUTTONS = 210
MAX_ROWS = 30
MAX_PER_ROW = 7
# The schema says 128; maxapi's docstring says 64: keep to the stricter one.
MAX_LABEL = 64

CAPABILITIES = Capabilities(
    max_text=MAX_TEXT,
    max_buttons=MAX_BUTTONS,
    max_per_row=MAX_PER_ROW,
    max_rows=MAX_ROWS,
    max_label=MAX_LABEL,
    link_buttons=True,
    request_phone=True,
    markdown=True,
    files=True,  # uploaded to MAX (connectors.maxbot.upload)
)

PHONE_LABEL = MAX_PHONE_BUTTON  # the text is ``connectors.texts``'s

# MAX's design advice: labels up to 3/5/10 visible characters fit 4/3/2 buttons per row.
_WIDTH_BY_LABEL = ((3, 4), (5, 3), (10, 2))

ButtonJSON = dict[str, str]
AttachmentJSON = dict[str, object]


class NewMessageBody(TypedDict):
    """The JSON body of ``POST /messages`` (only the fields svyaz uses)."""

    attachments: list[AttachmentJSON]
    text: NotRequired[str]
    format: NotRequired[Literal["markdown"]]


def render(reply: Reply, caps: Capabilities = CAPABILITIES, *,
           media: Sequence[AttachmentJSON] = ()) -> list[NewMessageBody]:
    """The messages to send for ``reply``, in order; the keyboard rides on the last one,
    ``media`` (uploaded files: ``{"type": "image", "payload": {"token": ...}}``) on the first.

    Text is split within ``caps.max_text``; choices that do not fit the keyboard become a
    numbered list (``layout_reply``). An operator's message is signed with their name
    (``signed``). Returns ``[]`` for a reply with nothing to show.
    """
    reply = signed(reply)
    reserve = 1 if reply.request_phone else 0
    fitted = replace(
        caps,
        max_rows=caps.max_rows - reserve,
        max_buttons=caps.max_buttons - reserve,
    )
    choices = [b for b in reply.buttons if b.url is None]
    layout = layout_reply(reply, fitted, per_row=choice_width(choices, fitted))
    rows = [[_button(b) for b in row] for row in layout.rows]
    if reply.request_phone:
        rows.append([{"type": "request_contact", "text": PHONE_LABEL}])
    bodies = [_body(part, reply.markdown) for part in layout.parts] or [_body("", False)]
    bodies[0]["attachments"].extend(media)
    if reply.image_url:
        bodies[0]["attachments"].append({"type": "image", "payload": {"url": reply.image_url}})
    if rows:
        bodies[-1]["attachments"].append(keyboard(rows))
    return [b for b in bodies if "text" in b or b["attachments"]]


def keyboard(rows: list[list[ButtonJSON]]) -> AttachmentJSON:
    return {"type": "inline_keyboard", "payload": {"buttons": rows}}


def choice_width(choices: list[Button], caps: Capabilities) -> int:
    """Buttons per row: as MAX advises for the longest label, wider only to fit the rows."""
    if not choices:
        return 1
    longest = max(len(b.text) for b in choices)
    width = next((w for limit, w in _WIDTH_BY_LABEL if longest <= limit), 1)
    width = min(width, caps.max_per_row)
    while width < caps.max_per_row and -(-len(choices) // width) > caps.max_rows:
        width += 1
    return width


def _body(text: str, markdown: bool) -> NewMessageBody:
    body: NewMessageBody = {"attachments": []}
    if text:
        body["text"] = text
        if markdown:
            body["format"] = "markdown"
    return body


def _button(button: Button) -> ButtonJSON:
    if button.url is not None:
        return {"type": "link", "text": button.text, "url": button.url}
    return {"type": "callback", "text": button.text, "payload": button.id}
