"""The import's refusal reasons are catalogue messages: the dry run says them in the owner's
language (``SVYAZ_LANG``), Russian or English, with the same facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots import importer
from bots.cli import main
from storage.embedded import EmbeddedRedis

CSV = """name;phone;email;consent_personal_data;consent_ads;source;tags
Вера;12345;;2024-05-01;;анкета;
Глеб;;;2024-05-01;;анкета;
Жанна;+7 903 000-00-02;;2024-13-45;;анкета;
Зоя;+7 903 000-00-03;;2024-05-01;;анкета;Не Метка!
Ира;+7 903 000-00-04;;2024-05-01;;анкета;
Юля;+7 903 000-00-04;;2024-05-01;;анкета;
"""


def test_every_reason_is_a_catalogue_message() -> None:
    plan = importer.read_rows(CSV)
    assert [(line, reason.key) for line, reason in plan.refused] == [
        (2, "import.bad_phone"), (3, "import.no_contact"), (4, "import.bad_date"),
        (5, "import.bad_tag"), (7, "import.duplicate")]
    assert importer.read_rows("name;x\nА;1\n").refused[0][1].key == "import.no_columns"


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "line 2: refused — phone «12345» does not look like a number"),
    ("ru", "строка 2: отклонена — телефон «12345» не похож на номер"),
])
def test_the_dry_run_speaks_the_owners_language(
        embedded_redis: EmbeddedRedis, bot_prefix: str, tmp_path: Path, lang: str, said: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVYAZ_REDIS_URL", embedded_redis.url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    monkeypatch.setenv("SVYAZ_LANG", lang)
    (tmp_path / "customers.csv").write_text(CSV, encoding="utf-8")
    assert main(["import", "customers.csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert said in out
    assert any("+79030000004" in line and " 6" in line for line in out)  # the duplicate
