"""``Reply`` -> form parameters of VK ``messages.send`` (PROTOCOLS.md B7, B8).

Pure: no I/O. Owns VK's limits for one outgoing reply: text length, the inline keyboard's
shape (<= 6 rows, <= 5 per row, <= 10 buttons, labels <= 40), the button payload size
(<= 255 bytes), link buttons as ``open_link``, and a ``random_id`` per message part derived
from the outbox key, so a re-send of the same key is dropped by VK instead of shown twice.
The keyboard JSON is built by ``vk_api.keyboard.VkKeyboard`` (pure, no network).
It must not send anything and must not decide what to say.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Literal

from vk_api.keyboard import VkKeyboard, VkKeyboardColor

from connectors.base import Capabilities
from connectors.common import Layout, layout_reply, signed
from flows.types import Button, Reply

from .parse import BUTTON_KEY

# The 5.199 schema allows 9000 characters in ``message``; 4096 is the limit widely quoted for
# VK (and what older clients are known to cut at), and neither was confirmed against the live
# API (PROTOCOLS.md C, VK 5). Splitting at the lower figure costs an extra message only for
# very long texts, while guessing high risks error 914 or a cut message. It also leaves room if
# VK counts UTF-16 units (an emoji is two): 4096 code points are at most 8192 units < 9000.
MAX_TEXT = 4096
MAX_PAYLOAD_BYTES = 255  # button payload limit quoted by VK client libraries (UNCONFIRMED)
EMPTY_TEXT = "…"  # messages.send refuses an empty message; a keyboard still needs a carrier

CAPABILITIES = Capabilities(
    max_text=MAX_TEXT,
    max_buttons=10,
    max_per_row=5,
    max_rows=6,
    max_label=40,
    link_buttons=True,
    request_phone=False,
    markdown=False,
    files=True,  # uploaded to VK (connectors.vk.upload)
)

ButtonType = Literal["text", "callback"]


def random_id(message_key: str, part: int) -> int:
    """A stable, non-zero signed 32-bit ``random_id`` for part ``part`` of an outbox entry."""
    digest = hashlib.sha256(f"{message_key}:{part}".encode()).digest()
    value = int.from_bytes(digest[:4], "big", signed=True)
    return value or 1


def button_payload(button_id: str) -> str:
    return json.dumps({BUTTON_KEY: button_id}, ensure_ascii=False, separators=(",", ":"))


def render(
    reply: Reply,
    caps: Capabilities = CAPABILITIES,
    *,
    peer_id: str,
    message_key: str,
    button_type: ButtonType = "text",
) -> list[dict[str, str]]:
    """One ``messages.send`` parameter set per message part; the keyboard rides on the last.
    An operator's message is signed with their name (``signed``)."""
    fitted = _fit_payloads(_with_image(signed(reply)))
    layout = layout_reply(fitted, caps, per_row=_row_width(fitted, caps))
    keyboard = _keyboard(layout, button_type)
    calls: list[dict[str, str]] = []
    for index, part in enumerate(layout.parts):
        params = {
            "peer_id": peer_id,
            "random_id": str(random_id(message_key, index)),
            "message": part or EMPTY_TEXT,
        }
        if keyboard is not None and index == len(layout.parts) - 1:
            params["keyboard"] = keyboard
        calls.append(params)
    return calls


def _with_image(reply: Reply) -> Reply:
    # An attachment needs a photo uploaded to VK first; a link shows a preview instead.
    if not reply.image_url:
        return reply
    text = f"{reply.text}\n{reply.image_url}" if reply.text else reply.image_url
    return replace(reply, text=text, image_url=None)


def _fit_payloads(reply: Reply) -> Reply:
    """Choices whose payload would be too long for VK become a numbered list."""
    choices = [b for b in reply.buttons if b.url is None]
    if all(len(button_payload(b.id).encode()) <= MAX_PAYLOAD_BYTES for b in choices):
        return reply
    numbered = "\n".join(f"{i}. {b.text}" for i, b in enumerate(choices, 1))
    text = f"{reply.text}\n\n{numbered}" if reply.text else numbered
    return replace(reply, text=text, buttons=tuple(b for b in reply.buttons if b.url))


def _row_width(reply: Reply, caps: Capabilities) -> int:
    """Short labels share a row; long ones get a row each, unless that needs too many rows."""
    choices = [b for b in reply.buttons if b.url is None]
    if not choices:
        return 1
    longest = max(len(b.text) for b in choices)
    preferred = 3 if longest <= 12 else 2 if longest <= 20 else 1
    free_rows = max(1, caps.max_rows - (len(reply.buttons) - len(choices)))
    needed = -(-len(choices) // free_rows)
    return min(caps.max_per_row, max(preferred, needed))


def _keyboard(layout: Layout, button_type: ButtonType) -> str | None:
    if not layout.rows:
        return None
    keyboard = VkKeyboard(one_time=False, inline=True)
    for number, row in enumerate(layout.rows):
        if number:
            keyboard.add_line()
        for button in row:
            _add(keyboard, button, button_type)
    text: str = keyboard.get_keyboard()
    return text


def _add(keyboard: VkKeyboard, button: Button, button_type: ButtonType) -> None:
    label = button.text or EMPTY_TEXT  # VK refuses a button without a label (911)
    if button.url is not None:
        keyboard.add_openlink_button(label=label, link=button.url)
        return
    add = keyboard.add_callback_button if button_type == "callback" else keyboard.add_button
    add(label=label, color=VkKeyboardColor.PRIMARY, payload=button_payload(button.id))
