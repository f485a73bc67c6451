"""qa/eval_runs.py and `qa eval`: a user's own questions and documents, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main
from qa.eval_runs import EvalRequest, run_eval

from conftest import SEED_FILE


@pytest.fixture()
def own_set(tmp_path: Path) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "article.txt").write_bytes(SEED_FILE.read_bytes())
    (docs / "weather.md").write_text("# Weather\n\nHeavy snow closed the mountain passes on Sunday.")
    questions = tmp_path / "questions.jsonl"
    lines = [
        {"question": "What is the US backstop position?", "answers": ["the US stance has not shifted"], "doc_id": "article"},
        {"question": "What closed the mountain passes?", "answers": ["Heavy snow"], "doc_id": "weather"},
        {"question": "When will military leaders meet in the UK?", "answers": ["next Thursday"]},
    ]
    questions.write_text("\n".join(json.dumps(line) for line in lines))
    return questions, docs


def test_own_questions_are_measured(own_set, tmp_path: Path, embedder):
    questions, docs = own_set
    report = run_eval(EvalRequest("custom", questions_file=questions, docs=docs, cache=tmp_path / "cache"))
    assert (report.documents, report.retrieval.questions) == (2, 3)
    assert report.retrieval.metrics.recall_at(1) == 1.0
    assert report.answers.contains_gold == 1.0 and report.answers.citation_covers_gold == 1.0
    assert report.answers.abstained == 0.0


def test_unknown_doc_id_is_a_clear_error(own_set, tmp_path: Path, embedder):
    questions, docs = own_set
    questions.write_text(json.dumps({"question": "Why?", "answers": ["x"], "doc_id": "nope"}))
    with pytest.raises(ValueError, match="nope"):
        run_eval(EvalRequest("custom", questions_file=questions, docs=docs, cache=tmp_path / "cache"))


def test_cli_eval_prints_json(own_set, tmp_path: Path, embedder, capsys):
    questions, docs = own_set
    argv = ["eval", "--questions", str(questions), "--docs", str(docs), "--cache", str(tmp_path / "c"), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["suite"] == "custom" and report["answers"]["questions"] == 3


def test_cli_eval_without_a_suite_exits_2(capsys):
    assert main(["eval"]) == 2
    assert "name a suite" in capsys.readouterr().err


def test_long_document_paths_get_distinct_cache_folders():
    from pathlib import Path

    from qa.eval_runs import _cache_key

    base = "/data/" + "very-long-shared-prefix-" * 4
    first, second = _cache_key(Path(base + "a")), _cache_key(Path(base + "b"))
    assert first != second and first.endswith(first[-12:]) and len(first) <= 60
