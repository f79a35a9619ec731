"""Every example flow plays its conversation tests (flows_examples/*.test.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.registry import INSTALLED
from flows import convtest, loader

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"
FLOWS = loader.load(EXAMPLES)
SEND_ONLY = INSTALLED.send_only()  # as svyaz test has it
RESULTS = convtest.run_folder(EXAMPLES, FLOWS, send_only=SEND_ONLY)


def test_every_example_flow_has_conversation_tests() -> None:
    tested = {Path(r.file).name.removesuffix(".test.yaml") for r in RESULTS}
    flows = {Path(f.file).stem for f in FLOWS.flows.values()}
    assert flows - tested <= {"delivery_reminder"}  # played inside order_confirmation tests
    assert len(RESULTS) >= 15


@pytest.mark.parametrize("result", RESULTS, ids=[f"{Path(r.file).stem}:{r.line}" for r in RESULTS])
def test_conversation(result: convtest.ConvResult) -> None:
    assert result.ok, result.diff


def test_a_failing_conversation_reads_as_a_diff(tmp_path: Path) -> None:
    (tmp_path / "x.test.yaml").write_text(
        "tests:\n  - name: неверный ответ\n    turns:\n      - start: true\n"
        "      - say: записаться\n        bot: Куда пойдём?\n        effects: []\n",
        encoding="utf-8",
    )
    (failed,) = convtest.run_folder(tmp_path, FLOWS, lang="en")
    assert not failed.ok
    assert failed.line == 5
    assert failed.diff.splitlines() == [
        "x.test.yaml:5: неверный ответ",
        'turn 2 (customer says "записаться"):',
        "  bot replies differ:",
        "    expected:",
        '      - "Куда пойдём?"',
        "    got:",
        '      + "Какую услугу вы хотите?" [Стрижка] [Окрашивание] [Укладка]',
    ]


def test_a_broken_test_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "x.test.yaml").write_text(
        "tests:\n  - name: a\n    turns:\n      - sya: привет\n", encoding="utf-8"
    )
    (failed,) = convtest.run_folder(tmp_path, FLOWS, lang="en")
    assert not failed.ok
    assert "x.test.yaml:4:9: error: unknown key 'sya'; did you mean 'say'?" in failed.diff
