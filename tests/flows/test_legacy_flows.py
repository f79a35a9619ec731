"""Issue 16, done means: flows written for the language before issue 16 keep passing ``check``
and ``test``. ``legacy_examples/`` is ``flows_examples`` as it was then (commit bed2da9~1,
before ``expects:``, ``unreadable:``, working hours, ``if_past:``, ``vars:`` in ``_bot.yaml``);
``check`` only adds what it now finds that is real: a reminder that may have passed unsaid is
a warning (not an error), with the fix."""

from __future__ import annotations

from pathlib import Path

from flows import convcheck, convtest, loader

LEGACY = Path(__file__).parent / "legacy_examples"


def test_yesterdays_flows_pass_check_with_warnings_only() -> None:
    flows, problems = loader.check(LEGACY)
    assert flows is not None
    problems = (*problems, *convcheck.check_tests(LEGACY, flows))
    assert [p.severity for p in problems] == ["warning", "warning"]
    for problem in problems:
        assert problem.file.endswith("booking.yaml")
        assert "if_past:" in str(problem)


def test_yesterdays_conversation_tests_still_pass() -> None:
    flows = loader.load(LEGACY)
    results = convtest.run_folder(LEGACY, flows)
    assert len(results) == 20
    assert [r.name for r in results if not r.ok] == []
