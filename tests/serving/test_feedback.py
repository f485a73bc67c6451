"""qa/serving/feedback.py: one JSON object per line in $QA_DATA/feedback.jsonl."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from pathlib import Path

import pytest

from qa.serving.feedback import feedback_path, rating_of, read_feedback, record_feedback


@pytest.fixture()
def data(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("QA_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def test_feedback_file_lives_in_the_data_dir(data: Path):
    assert feedback_path() == data / "feedback.jsonl"


def test_a_rating_appends_question_answer_and_citations(data: Path, seed_index):
    answer = seed_index.answer("What is the US backstop position?")
    citations = [asdict(c) for c in answer.citations]
    record_feedback("up", answer.question, answer.text, citations, answer_id="a1")
    record_feedback("down", "Who won the 2022 World Cup?", "The documents don't say.", [], abstained=True, answer_id="a2")

    lines = (data / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["rating"] == "up" and first["question"] == "What is the US backstop position?"
    assert first["answer"] == answer.text and first["answer_id"] == "a1" and first["abstained"] is False
    assert first["citations"][0]["quote"] == answer.citations[0].quote
    assert first["citations"][0]["spans"] == [list(s) for s in answer.citations[0].spans]
    assert first["timestamp"].endswith("+00:00")
    assert second["rating"] == "down" and second["citations"] == [] and second["abstained"] is True
    assert read_feedback() == [first, second]


def test_unicode_is_kept_readable(data: Path):
    record_feedback("up", "Qu’est-ce que «Kursk»?", "Ответ [1]")
    raw = feedback_path().read_text(encoding="utf-8")
    assert "«Kursk»" in raw and "Ответ" in raw


def test_concurrent_ratings_each_land_on_their_own_line(data: Path):
    threads = [
        threading.Thread(target=record_feedback, args=("up", f"question {i}", "x" * 5000)) for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = read_feedback()
    assert sorted(e["question"] for e in entries) == sorted(f"question {i}" for i in range(20))


def test_bad_rating_is_refused_and_nothing_written(data: Path):
    with pytest.raises(ValueError, match="rating must be one of up, down, cleared"):
        record_feedback("meh", "q", "a")
    assert read_feedback() == [] and not feedback_path().exists()


@pytest.mark.parametrize(
    "liked, rating",
    [(True, "up"), (False, "down"), (None, "cleared"), ("Like", "up"), ("Dislike", "down"), ("other", "cleared")],
)
def test_gradio_like_values_map_to_ratings(liked, rating):
    assert rating_of(liked) == rating


def test_a_half_written_last_line_is_tolerated(data: Path):
    from qa.serving.feedback import feedback_path, read_feedback, record_feedback

    record_feedback("up", "Q1", "A1")
    with open(feedback_path(), "a", encoding="utf-8") as out:
        out.write('{"timestamp": "2026-11-26T00:00:00", "rat')  # a crash mid-write
    assert [e["question"] for e in read_feedback()] == ["Q1"]
    record_feedback("down", "Q2", "A2")
    assert [e["question"] for e in read_feedback()] == ["Q1", "Q2"]
