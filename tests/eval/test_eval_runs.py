"""qa/eval/eval_runs.py and `qa eval`: a user's own questions and documents, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main
from qa.eval.eval_runs import EvalRequest, run_eval

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

    from qa.eval.eval_runs import cache_folder_name

    base = "/data/" + "very-long-shared-prefix-" * 4
    first, second = cache_folder_name(Path(base + "a")), cache_folder_name(Path(base + "b"))
    assert first != second and first.endswith(first[-12:]) and len(first) <= 60


def _hotpot_sample(data: Path) -> None:
    """A HotpotQA-shaped sample: one bridge question over two gold paragraphs and fillers."""
    folder = data / "hotpotqa-sample"
    folder.mkdir(parents=True)
    corpus = {
        "Dick Humbert": [
            'Richard Elmer "Dick" Humbert (December 31, 1918 – May 23, 2007) was a professional American '
            "football end in the National Football League.",
            " He played for the Philadelphia Eagles (1941, 1945–1949).",
        ],
        "Philadelphia Eagles": [
            "The Philadelphia Eagles are a professional American football franchise based in Philadelphia, Pennsylvania.",
        ],
        "Danube": ["The Danube flows through ten countries before it reaches the Black Sea."],
        "Rhine": ["The Rhine carries barges from Basel to Rotterdam, past vineyards and castles."],
        "Thames": ["The Thames floods the tidal flats below London twice a day."],
    }
    question = {
        "_id": "q1", "type": "bridge", "level": "easy", "answer": "Pennsylvania", "context": [],
        "question": "From 1945-1949 Dick Humbert played for an NFL team based in what state?",
        "supporting_facts": [["Dick Humbert", 1], ["Philadelphia Eagles", 0]],
    }
    (folder / "hotpotqa_train_corpus.json").write_text(json.dumps(corpus))
    (folder / "hotpotqa_train.json").write_text(json.dumps([question]))


def test_hotpot_counts_answers_that_cite_both_hops(tmp_path: Path, embedder):
    _hotpot_sample(tmp_path / "data")
    report = run_eval(EvalRequest("hotpot", data=tmp_path / "data", cache=tmp_path / "cache"))
    hops = report.multi_hop
    assert hops.answers_cite_both == 1.0
    assert hops.both_in_top10 == hops.both_in_top10_with_hop == 1.0
    assert report.answers.contains_gold == 1.0
