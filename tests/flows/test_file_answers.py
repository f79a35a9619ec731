"""``input: photo`` and ``input: file``: a question answered by what the customer sends.

The value kept is the attachment's id; text to such a question hears the step's
``unreadable`` (or the built-in request for a file); a file sent where text is asked leaves
its caption to be read as text; the vocabulary is the one list of input kinds.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from flows import convtest, inputs, loader, texts
from flows.engine import advance
from flows.model import FlowSet
from flows.types import Attachment, AttachmentEvent, DialogState, Event, TextEvent, Turn

NOW = datetime(2026, 1, 12, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))
FLOW = """
flow: damage
triggers: [{text: [повреждение]}]
steps:
  photo:
    ask: Пришлите фото повреждения.
    input: photo
    unreadable: "Нужна именно фотография, а не «{{ answer }}»."
    save: damage_photo
  papers:
    ask: Пришлите документ.
    input: file
    save: papers
  name:
    ask: Как вас зовут?
    save: name
  done:
    say: "Фото {{ damage_photo }}, документ {{ papers }}, {{ name }}."
"""


def photo(id_: str = "a" * 24) -> Attachment:
    return Attachment(id=id_, kind="photo", ref="photo1_2", url="http://x/p")


def doc(id_: str = "d" * 24) -> Attachment:
    return Attachment(id=id_, kind="file", ref="doc1_2", url="http://x/d", name="акт.pdf")


def voice() -> Attachment:
    return Attachment(id="e" * 24, kind="voice", ref="doc1_3", url="http://x/v")


@pytest.fixture
def flows(tmp_path: Path) -> FlowSet:
    (tmp_path / "damage.yaml").write_text(dedent(FLOW), encoding="utf-8")
    return loader.load(tmp_path)


def play(flows: FlowSet, *events: Event) -> tuple[DialogState, list[Turn]]:
    state: DialogState | None = None
    turns = []
    for event in (TextEvent("повреждение"), *events):
        turn = advance(flows, state, event, NOW)
        state = turn.state
        turns.append(turn)
    assert state is not None
    return state, turns


def said(turn: Turn) -> list[str]:
    return [r.text for r in turn.replies]


def test_a_photo_answers_and_its_id_is_kept(flows: FlowSet) -> None:
    state, turns = play(flows, AttachmentEvent((photo(),), text="вот"),
                        AttachmentEvent((doc(),)), TextEvent("Анна"))
    assert said(turns[1]) == ["Пришлите документ."]
    assert said(turns[-1]) == [f"Фото {'a' * 24}, документ {'d' * 24}, Анна."]


def test_text_to_a_photo_question_hears_unreadable(flows: FlowSet) -> None:
    state, turns = play(flows, TextEvent("у меня нет камеры"))
    assert said(turns[-1]) == ["Нужна именно фотография, а не «у меня нет камеры»."]
    assert state.stack[-1].step == "photo"
    assert "damage_photo" not in state.vars


def test_a_document_or_voice_does_not_answer_a_photo_question(flows: FlowSet) -> None:
    for wrong in (doc(), voice()):
        state, turns = play(flows, AttachmentEvent((wrong,)))
        assert state.stack[-1].step == "photo"
        assert said(turns[-1]) == ["Нужна именно фотография, а не «»."]


def test_a_file_question_takes_a_photo_too_the_first_that_fits(flows: FlowSet) -> None:
    state, _ = play(flows, AttachmentEvent((photo(),)),
                    AttachmentEvent((voice(), photo("b" * 24), doc())))
    assert state.vars["papers"] == "b" * 24


def test_without_unreadable_the_bot_asks_for_a_file(flows: FlowSet) -> None:
    _, turns = play(flows, AttachmentEvent((photo(),)), TextEvent("потом"))
    assert said(turns[-1]) == [texts.FILE_NEEDED]


def test_files_at_a_text_question_read_their_caption(flows: FlowSet) -> None:
    state, turns = play(flows, AttachmentEvent((photo(),)), AttachmentEvent((doc(),)),
                        AttachmentEvent((photo("c" * 24),), text="Борис"))
    assert said(turns[-1])[-1].endswith("Борис.")


def test_photo_and_file_are_input_kinds_of_the_one_list() -> None:
    assert {"photo", "file"} <= set(inputs.INPUT_KINDS)
    assert set(inputs.FILE_KINDS) <= set(inputs.INPUT_KINDS)
    assert isinstance(inputs.parse("photo", "текст", now=NOW), inputs.Invalid)


def test_conversation_tests_can_send_a_photo_or_a_file(tmp_path: Path) -> None:
    (tmp_path / "damage.yaml").write_text(dedent(FLOW), encoding="utf-8")
    (tmp_path / "damage.test.yaml").write_text(dedent("""
        tests:
          - name: фото и документ
            turns:
              - say: повреждение
              - say: нет фото
                bot: Нужна именно фотография, а не «нет фото».
              - photo: скол.jpg
                bot: Пришлите документ.
                vars: {damage_photo: "photo:скол.jpg"}
              - file: акт.pdf
                vars: {papers: "file:акт.pdf"}
                at: damage/name
    """), encoding="utf-8")
    (result,) = convtest.run_folder(tmp_path, loader.load(tmp_path))
    assert result.ok, result.diff
