"""Each channel's preview (``ChannelInfo.preview``, the desk's broadcast preview) is what its
connector's own rendering would send: VK's and MAX's keyboards with the link and «Отписаться»,
the web chat's buttons, and each channel's own text limit (a 4,000-character text is one VK
message and web chat frame, two MAX messages: MAX takes 3,999)."""

from __future__ import annotations

from connectors.channel import Shown, ShownButton
from connectors.maxbot.render import MAX_TEXT
from connectors.registry import INSTALLED
from flows.broadcast import BroadcastSpec, reply_of

SPEC = BroadcastSpec.model_validate({
    "title": "Декабрь", "kind": "ads", "segment": "all", "text": "Скидка 20%!",
    "buttons": [{"text": "Цены", "url": "https://example.ru/prices"},
                {"text": "Записаться", "button": "booking"}]})
LINK = ShownButton("Цены", "https://example.ru/prices")
BOOK, STOP = ShownButton("Записаться"), ShownButton("Отписаться")


def _shown(channel: str, spec: BroadcastSpec = SPEC) -> tuple[Shown, ...]:
    preview = INSTALLED[channel].preview
    assert preview is not None
    return preview(reply_of(spec))


def test_the_messengers_and_the_web_chat_have_a_preview_and_send_only_channels_none() -> None:
    assert [c.name for c in INSTALLED if c.preview is not None] == ["vk", "max", "web"]


def test_each_channel_shows_the_text_with_its_own_keyboard() -> None:
    vk, max_, web = _shown("vk"), _shown("max"), _shown("web")
    assert [m.text for m in (*vk, *max_, *web)] == ["Скидка 20%!"] * 3
    # the choices first, two to a row in VK and MAX, the link on a row of its own
    assert vk[0].rows == max_[0].rows == ((BOOK, STOP), (LINK,))
    assert web[0].rows == ((BOOK,), (STOP,), (LINK,))  # the widget: a button a line


def test_a_long_text_is_split_where_the_channel_needs_it() -> None:
    long = SPEC.model_copy(update={"text": "а" * 4000})
    vk, max_, web = _shown("vk", long), _shown("max", long), _shown("web", long)
    assert (len(vk), len(max_), len(web)) == (1, 2, 1)
    assert len(max_[0].text) <= MAX_TEXT
    assert "".join(m.text for m in max_) == "а" * 4000
    assert max_[0].rows == ()
    assert max_[-1].rows  # the keyboard rides on the last message
