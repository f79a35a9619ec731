"""Issue 16, done means: screenshots of the widget at 1280×800 and 390×844 (greeting, choice,
phone question, operator reply) are committed under docs/ and linked from the README, and so
are the desk's (list and conversation, desktop and phone)."""

from __future__ import annotations

import re
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def linked() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"\((docs/[^)\s]+\.png)\)", text))


def test_every_widget_state_at_both_sizes_is_linked_and_of_its_size() -> None:
    links = linked()
    for size, viewport in SIZES.items():
        for state in ("greeting", "choice", "phone", "operator"):
            name = f"docs/widget/{size}-{state}.png"
            assert name in links, name
            assert png_size(ROOT / name) == viewport, name


def test_the_desk_screenshots_are_linked_and_as_wide_as_their_screen() -> None:
    links = linked()
    for size, (width, height) in SIZES.items():
        for view in ("list", "conversation"):
            name = f"docs/desk-{view}-{size}.png"
            assert name in links, name
            shot = png_size(ROOT / name)
            assert shot[0] == width, name
            assert shot[1] >= height, name  # a conversation is photographed whole
