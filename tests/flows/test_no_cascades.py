"""One broken file reports its own mistake, and nothing it causes elsewhere: no «the flow
'booking' does not exist» from the flows that call it, no variables «nothing saves», no
warnings about steps of a flow only half read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows import loader

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"


def examples_with(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(EXAMPLES, folder)
    booking = folder / "booking.yaml"
    text = booking.read_text(encoding="utf-8")
    assert old in text
    booking.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        pytest.param("    save: service\n", "\tsave: service\n", "табуляции", id="tab"),
        pytest.param("    ask: Какую услугу вы хотите?\n",
                     "    ask: Какую услугу вы хотите: стрижку или укладку?\n",
                     "в тексте есть ': '", id="colon-in-text"),
        pytest.param("    save: service\n", "    sav: service\n",
                     "неизвестный ключ 'sav'; может быть, 'save'?", id="typo-key"),
        pytest.param("flow: booking\n", "flow: booking\nsteps: []\n",
                     "ключ 'steps' написан дважды", id="duplicate-key"),
    ],
)
def test_one_broken_file_reports_exactly_its_mistake(
    tmp_path: Path, old: str, new: str, words: str
) -> None:
    flows, problems = loader.check(examples_with(tmp_path, old, new))
    assert flows is None
    assert len(problems) == 1, "\n".join(map(str, problems))
    assert Path(problems[0].file).name == "booking.yaml"
    assert words in problems[0].message


def test_a_real_missing_flow_is_still_reported_next_to_a_broken_file(tmp_path: Path) -> None:
    folder = examples_with(tmp_path, "    save: service\n", "\tsave: service\n")
    start = folder / "start.yaml"
    start.write_text(start.read_text(encoding="utf-8").replace(
        "call: order_confirmation", "call: order_confirmaton"), encoding="utf-8")
    _, problems = loader.check(folder, lang="en")
    assert [Path(p.file).name for p in problems] == ["booking.yaml", "start.yaml"]
    assert "the flow 'order_confirmaton' does not exist; did you mean 'order_confirmation'?" \
        in problems[1].message
