"""Fast tests of the evaluation library: metric arithmetic, sampling protocol, loaders.

Expected metric values are worked out by hand in the comments, so a change in the formulas
(not only in the code) shows up here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random

import pytest

from qa.eval.evaluation import (
    EvalQuestion,
    QuestionFileError,
    contains_answer,
    default_data_dir,
    evaluate_retrieval,
    first_relevant_rank,
    load_questions_jsonl,
    metrics_from_ranks,
    normalize_answer,
    percentile,
    ranking_metrics,
    sample_questions,
    squad_documents,
)
from qa.index.retrieval import Passage


def test_ranking_metrics_on_hand_made_rankings():
    rankings = [
        ["a", "b", "c"],  # gold a at rank 1
        ["b", "a", "a"],  # gold a at rank 2; its second chunk at rank 3 is ignored
        ["x", "y", "z", "w", "v", "g"],  # gold g at rank 6
        ["x"],  # gold g never retrieved
    ]
    metrics = ranking_metrics(rankings, ["a", "a", "g", "g"], ks=(1, 5, 20))
    assert metrics.questions == 4
    assert metrics.recall_at(1) == 0.25  # 1 of 4
    assert metrics.recall_at(5) == 0.5  # ranks 1, 2
    assert metrics.recall_at(20) == 0.75  # ranks 1, 2, 6
    assert metrics.mrr_at_10 == pytest.approx((1 + 1 / 2 + 1 / 6) / 4)  # = 5/12
    assert metrics.mrr_at_10 == pytest.approx(5 / 12)
    # nDCG with one relevant item: 1/log2(rank+1); ideal DCG is 1.
    assert metrics.ndcg_at_10 == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(7)) / 4)
    assert metrics.ndcg_at_10 == pytest.approx(0.4967842, abs=1e-6)


def test_ranks_beyond_cutoff_count_for_recall_but_not_mrr():
    metrics = metrics_from_ranks([11, None], ks=(1, 20))
    assert metrics.recall == (0.0, 0.5)
    assert metrics.mrr_at_10 == 0.0
    assert metrics.ndcg_at_10 == 0.0


def test_perfect_ranking_scores_one():
    metrics = ranking_metrics([["d1"], ["d2", "d1"]], ["d1", "d2"])
    assert metrics.recall == (1.0, 1.0, 1.0)
    assert metrics.mrr_at_10 == 1.0
    assert metrics.ndcg_at_10 == 1.0


def test_ranking_metrics_rejects_mismatched_or_empty_input():
    with pytest.raises(ValueError):
        ranking_metrics([["a"]], ["a", "b"])
    with pytest.raises(ValueError):
        ranking_metrics([], [])
    with pytest.raises(KeyError):
        ranking_metrics([["a"]], ["a"], ks=(1,)).recall_at(5)


def test_first_relevant_rank():
    assert first_relevant_rank(["x", "g", "g"], "g") == 2
    assert first_relevant_rank([], "g") is None


def _questions(n: int) -> list[EvalQuestion]:
    return [EvalQuestion(f"q{i}?", f"d{i}", (f"a{i}",)) for i in range(n)]


def test_sample_questions_is_the_seeded_global_sample():
    questions = _questions(50)
    first = sample_questions(questions, n=10, seed=0)
    assert first == sample_questions(questions, n=10, seed=0)
    # The protocol is random.seed(seed); random.sample(...), identical to Random(seed).sample.
    assert first == random.Random(0).sample(questions, 10)
    assert first != sample_questions(questions, n=10, seed=1)
    assert len(set(first)) == 10


def test_sample_questions_larger_than_the_set_returns_all_in_order():
    questions = _questions(5)
    assert sample_questions(questions, n=10) == questions


def test_normalize_and_contains_answer():
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert contains_answer("Won by the Denver Broncos, 24-10.", ["denver broncos"])
    assert not contains_answer("Denverites", ["Denver"])  # whole words only
    assert not contains_answer("anything", [""])


def test_percentile_matches_linear_interpolation():
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0


def _write_squad(tmp_path):
    context = "  Denver won Super Bowl 50. The game was in Santa Clara. "
    data = {
        "version": "1.1",
        "data": [
            {
                "title": "Super_Bowl_50",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Who won Super Bowl 50?",
                                "answers": [{"text": "Denver", "answer_start": 2}],
                            },
                            {
                                "id": "q2",
                                "question": "Where was the game?",
                                "answers": [
                                    {"text": "Santa Clara", "answer_start": 44},
                                    {"text": "in Santa Clara", "answer_start": 41},
                                ],
                            },
                        ],
                    }
                ],
            },
            {
                "title": "Oxygen",
                "paragraphs": [
                    {
                        "context": "Oxygen is O\n2 in air.",
                        "qas": [
                            {
                                "id": "q3",
                                "question": "What is oxygen in air?",
                                "answers": [{"text": "O\n2", "answer_start": 10}],
                            }
                        ],
                    }
                ],
            },
        ],
    }
    path = tmp_path / "squad-v1.1-dev" / "dev-v1.1.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_squad_documents_keeps_text_and_offsets(tmp_path):
    path = _write_squad(tmp_path)
    for given in (tmp_path, path.parent, path):  # folder, set folder or the file itself
        documents, questions = squad_documents(given)
        assert [d.doc_id for d in documents] == ["squad-0-0", "squad-1-0"]
    first = documents[0]
    assert first.title == "Super Bowl 50"
    assert first.path == "squad:Super_Bowl_50/0"
    assert first.source == "SQuAD v1.1 dev"
    assert first.text.startswith("  Denver")  # exact context, offsets stay valid
    assert first.paragraphs == ((2, len(first.text) - 1),)  # surrounding spaces left out
    assert documents[1].paragraphs == ((0, len(documents[1].text)),)
    assert [q.question_id for q in questions] == ["q1", "q2", "q3"]
    assert questions[1].doc_id == "squad-0-0"
    assert questions[1].answers == ("Santa Clara", "in Santa Clara")
    assert questions[2].title == "Oxygen"
    by_id = {d.doc_id: d for d in documents}
    for q in questions:
        text = by_id[q.doc_id].text
        for answer, start in zip(q.answers, q.answer_starts):
            assert text[start : start + len(answer)] == answer


def test_squad_documents_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="QA_BENCH_DATA"):
        squad_documents(tmp_path)


def test_default_data_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_BENCH_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("QA_BENCH_DATA")
    assert default_data_dir().parts[-2:] == ("shared", "data")


def test_load_questions_jsonl(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text(
        '{"question": "Who won?", "answers": ["Denver"], "doc_id": "game"}\n'
        "\n"
        '{"question": "Where?", "answers": "Santa Clara"}\n',
        encoding="utf-8",
    )
    questions = load_questions_jsonl(path)
    assert questions == [
        EvalQuestion("Who won?", "game", ("Denver",)),
        EvalQuestion("Where?", None, ("Santa Clara",)),
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ("not json", "line 1: not JSON"),
        ('{"answers": ["x"]}', "'question'"),
        ('{"question": "q", "answers": [1]}', "'answers'"),
        ('{"question": "q"}', "give 'doc_id' or 'answers'"),
    ],
)
def test_load_questions_jsonl_names_the_bad_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(QuestionFileError, match=message):
        load_questions_jsonl(path)


def _passage(doc_id: str, start: int, end: int, text: str = "") -> Passage:
    """A Passage with the fields these tests read; every other field (scores that
    retrieval may add) gets a zero of its type, so new signals don't break the tests."""
    given = {"text": text, "doc_id": doc_id, "start": start, "end": end, "chunk_id": f"{doc_id}:{start}"}
    zeros = {"str": "", "int": 0, "float": 0.0}
    values = {f.name: given.get(f.name, zeros.get(str(f.type), 0.0)) for f in dataclasses.fields(Passage)}
    return Passage(**values)


class _FixedRetriever:
    """Returns a canned ranking per question and records the depth asked for."""

    def __init__(self, rankings: dict[str, list[Passage]]) -> None:
        self.rankings = rankings
        self.ks: list[int] = []

    def retrieve(self, question: str, k: int = 5) -> list[Passage]:
        self.ks.append(k)
        return self.rankings[question][:k]


def test_evaluate_retrieval_scores_ranks_strictness_and_time():
    questions = [
        EvalQuestion("q1", "d1", ("x",), answer_starts=(150,)),
        EvalQuestion("q2", "d2", ("y",), answer_starts=(10,)),
        EvalQuestion("q3", None, ("Santa Clara",)),
    ]
    retriever = _FixedRetriever(
        {
            # d1's first chunk ranks 1 but the answer is in its second chunk, at rank 2: strict hit.
            "q1": [_passage("d1", 0, 100), _passage("d1", 100, 200), _passage("d9", 0, 50)],
            # d2 at rank 3, answer covered: hit at R@5 and strict.
            "q2": [_passage("d8", 0, 50), _passage("d9", 0, 50), _passage("d2", 0, 50)],
            # No doc id: relevance is "contains the answer", found at rank 2.
            "q3": [_passage("a", 0, 9, "Denver"), _passage("b", 0, 20, "played in Santa Clara")],
        }
    )
    seen: list[tuple[int, int]] = []
    report = evaluate_retrieval(retriever, questions, ks=(1, 5), progress=lambda d, t: seen.append((d, t)))
    assert report.questions == 3
    assert report.metrics.recall == (pytest.approx(1 / 3), 1.0)
    assert report.metrics.mrr_at_10 == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)
    assert report.strict_recall_at_5 == 1.0
    assert report.latency.p50_ms >= 0 and report.latency.p95_ms >= report.latency.p50_ms
    assert seen[-1] == (3, 3) and len(seen) == 3
    assert set(retriever.ks) == {10}  # depth covers MRR@10 even when ks stop at 5
    assert len(retriever.ks) == 4  # one untimed warm-up call plus one per question


def test_strict_recall_misses_a_chunk_without_the_answer():
    questions = [EvalQuestion("q", "d1", ("x",), answer_starts=(150,))]
    retriever = _FixedRetriever({"q": [_passage("d1", 0, 100)]})
    report = evaluate_retrieval(retriever, questions)
    assert report.metrics.recall_at(1) == 1.0
    assert report.strict_recall_at_5 == 0.0


def test_real_squad_dev_file_has_the_documented_counts():
    try:
        documents, questions = squad_documents()
    except FileNotFoundError:
        pytest.skip("SQuAD v1.1 dev is not in shared/data on this machine")
    assert len(documents) == 2067
    assert len(questions) == 10570
    assert len({d.doc_id for d in documents}) == 2067
