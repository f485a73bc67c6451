"""benchmarks/common.py: what the benchmark scripts share and a test can reach (benchmarks/ is
not a package, so the module is loaded from its file)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType

from qa.index.coordinator import Index
from qa.models.reading import READER_FILE, READER_SETTINGS_FILE, load_reader

from conftest import PROJECT, benchmark_script

ON_TOPIC = "What is the US backstop position?"


def _common() -> ModuleType:
    return benchmark_script("common")


def test_a_candidate_reader_answers_inside_its_block_and_says_so(seed_index: Index, tmp_path: Path, capsys):
    # A candidate that differs from the shipped reader only in its operating point: a margin no
    # span reaches, so every answer read inside the block abstains.
    package = PROJECT / "qa" / "models"
    shutil.copy(package / READER_FILE, tmp_path / READER_FILE)
    settings = json.loads((package / READER_SETTINGS_FILE).read_text(encoding="utf-8"))
    (tmp_path / READER_SETTINGS_FILE).write_text(json.dumps({**settings, "abstain_margin": 1e6}), encoding="utf-8")
    shipped = load_reader()
    common = _common()

    with common.candidate_reader(tmp_path):
        inside = seed_index.answer(ON_TOPIC)
    outside = seed_index.answer(ON_TOPIC)

    assert inside.abstained and inside.margin is not None
    assert not outside.abstained
    assert load_reader() is shipped
    assert f"Reader: {tmp_path / READER_FILE}" in capsys.readouterr().out


def test_without_a_candidate_the_shipped_reader_answers(seed_index: Index, capsys):
    with _common().candidate_reader(None):
        assert not seed_index.answer(ON_TOPIC).abstained
    assert "the shipped one" in capsys.readouterr().out
