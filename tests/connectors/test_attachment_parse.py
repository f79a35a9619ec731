"""Photos, documents and voice messages from VK and MAX become typed attachments.

Updates are built by the fakes' wire builders, shaped as the platforms send them (VK API 5.199
media objects; MAX ``Image``/``File``/``Audio`` attachments as maxapi reads them).
"""

from __future__ import annotations

from connectors.attachments import attachment_id, is_attachment_id, with_file_link
from connectors.maxbot.parse import parse
from connectors.vk.parse import parse_callback
from flows.types import Attachment, AttachmentEvent, Button, ButtonEvent, Reply, TextEvent
from storage.codec import decode_inbound, encode_inbound
from tests.fakes import max_wire
from tests.fakes import vk_wire as vk

HOST = "http://files.test/f"


def vk_event(text: str, attachments: list[dict[str, object]], **kw: object) -> AttachmentEvent:
    inbound = parse_callback(vk.message_new(1, 42, text, attachments=attachments,
                                            event_id="ev1", **kw))  # type: ignore[arg-type]
    assert inbound is not None
    assert isinstance(inbound.event, AttachmentEvent)
    return inbound.event


def test_vk_photo_doc_and_voice_are_attachments_in_order() -> None:
    event = vk_event("вот", [
        vk.photo(42, f"{HOST}/p"),
        {"type": "sticker", "sticker": {"sticker_id": 9}},
        vk.doc(42, f"{HOST}/d", title="договор.pdf", size=48213),
        vk.audio_message(42, f"{HOST}/a.mp3", f"{HOST}/a.ogg"),
    ])
    assert event.text == "вот"
    photo, doc, voice = event.attachments
    assert photo == Attachment(id=attachment_id("vk", "ev1", 0), kind="photo",
                               ref="photo42_457239017_c0ffee0123456789ab", url=f"{HOST}/p")
    assert (doc.kind, doc.ref, doc.url, doc.name, doc.size) == (
        "file", "doc42_660012345_d0c5ecret", f"{HOST}/d", "договор.pdf", 48213)
    assert doc.id == attachment_id("vk", "ev1", 2)
    assert (voice.kind, voice.url, voice.mime) == ("voice", f"{HOST}/a.mp3", "audio/mpeg")
    assert all(is_attachment_id(a.id) for a in event.attachments)


def test_vk_photo_without_orig_takes_the_largest_size() -> None:
    raw = vk.photo(42, f"{HOST}/p")
    del raw["photo"]["orig_photo"]  # type: ignore[attr-defined]
    (photo,) = vk_event("", [raw]).attachments
    assert photo.url == f"{HOST}/p?size=x"


def test_vk_message_with_only_a_sticker_stays_text() -> None:
    inbound = parse_callback(vk.message_new(
        1, 42, "", attachments=[{"type": "sticker", "sticker": {"sticker_id": 9}}]))
    assert inbound is not None
    assert inbound.event == TextEvent(text="")


def test_vk_malformed_media_is_skipped_not_fatal() -> None:
    inbound = parse_callback(vk.message_new(
        1, 42, "текст", attachments=[{"type": "photo", "photo": {"id": "x"}}, "junk"]))
    assert inbound is not None
    assert inbound.event == TextEvent(text="текст")


def test_vk_button_press_with_a_photo_is_still_the_button() -> None:
    inbound = parse_callback(vk.message_new(1, 42, "Да", payload='{"b":"yes"}',
                                            attachments=[vk.photo(42, f"{HOST}/p")]))
    assert inbound is not None
    assert isinstance(inbound.event, ButtonEvent)


def test_vk_same_update_twice_gives_the_same_ids() -> None:
    first = vk_event("", [vk.photo(42, f"{HOST}/p")])
    again = vk_event("", [vk.photo(42, f"{HOST}/p")])
    assert first.attachments[0].id == again.attachments[0].id


def max_event(update: dict[str, object]) -> AttachmentEvent:
    inbound = parse(update)
    assert inbound is not None
    assert inbound.event_id.startswith("mid:")
    assert isinstance(inbound.event, AttachmentEvent)
    return inbound.event


def test_max_image_file_and_audio_without_text_are_attachments() -> None:
    update = max_wire.message_created(5, None, attachments=[
        max_wire.image(f"{HOST}/i"), max_wire.file(f"{HOST}/f", filename="смета.pdf", size=77),
        max_wire.audio(f"{HOST}/v")])
    image, file, audio = max_event(update).attachments
    assert (image.kind, image.ref, image.url) == ("photo", "img-token-1", f"{HOST}/i")
    assert (file.kind, file.ref, file.name, file.size) == ("file", "file-token-1", "смета.pdf", 77)
    assert (audio.kind, audio.ref) == ("voice", "audio-token-1")


def test_max_caption_and_keyboard_attachments() -> None:
    update = max_wire.message_created(5, "подпись", attachments=[
        {"type": "inline_keyboard", "payload": {"buttons": []}}, max_wire.image(f"{HOST}/i")])
    event = max_event(update)
    assert event.text == "подпись"
    assert len(event.attachments) == 1
    assert event.attachments[0].id == attachment_id("max", parse(update).event_id, 1)  # type: ignore[union-attr]


def test_max_media_without_url_is_skipped() -> None:
    update = max_wire.message_created(5, None, attachments=[{"type": "image", "payload": {}}])
    assert parse(update) is None


def test_max_contact_still_wins_over_files() -> None:
    inbound = parse(max_wire.contact(5, "+79991234567"))
    assert inbound is not None
    assert not isinstance(inbound.event, AttachmentEvent)


def test_a_bad_file_name_is_cleaned_and_cut() -> None:
    update = max_wire.message_created(5, None, attachments=[
        max_wire.file(f"{HOST}/f", filename="\ud800" + "я" * 500)])
    (file,) = max_event(update).attachments
    assert file.name is not None
    assert file.name.startswith("\ufffd")
    assert len(file.name) == 200


def test_attachment_events_survive_the_inbox_codec() -> None:
    inbound = parse(max_wire.message_created(5, "x", attachments=[
        max_wire.file(f"{HOST}/f"), max_wire.image(f"{HOST}/i")]))
    assert inbound is not None
    assert decode_inbound(encode_inbound(inbound)) == inbound


def test_a_file_a_channel_cannot_carry_becomes_a_link_button() -> None:
    file = Attachment(id="f" * 24, kind="file", ref="", url="https://b.test/files/t",
                      name="акт сверки за ноябрь.pdf")
    out = with_file_link(Reply("", operator="Оля", file=file), max_label=12)
    assert out.file is None
    assert out.text == "акт сверки"
    assert out.buttons == (Button(id=f"file:{'f' * 24}", text="📎 акт сверки",
                                  url="https://b.test/files/t"),)
    plain = Reply("без файла")
    assert with_file_link(plain, max_label=12) is plain


def test_odd_attachment_fields_never_lose_the_message() -> None:
    odd_file = {**max_wire.file(f"{HOST}/f"), "size": "большой", "filename": 7}
    (file,) = max_event(max_wire.message_created(5, "текст", attachments=[odd_file]))\
        .attachments
    assert (file.name, file.size) == (None, None)
    body = vk.message_new(1, 42, "привет")
    body["object"]["message"]["attachments"] = {"not": "a list"}
    inbound = parse_callback(body)
    assert inbound is not None
    assert inbound.event == TextEvent(text="привет")
