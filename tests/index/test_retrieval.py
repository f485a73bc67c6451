"""qa/index/retrieval.py: input checks and score fusion (pure functions, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from qa.index.retrieval import FusionConfig, check_k, check_question, fuse, minmax, top_k


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_refused(question: str):
    with pytest.raises(ValueError, match="empty"):
        check_question(question)


def test_huge_question_is_refused_quickly():
    with pytest.raises(ValueError, match="99,999 characters long; the limit is 2,000"):
        check_question("why " * 25_000)


def test_question_must_be_a_string():
    with pytest.raises(TypeError):
        check_question(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0, -1, 101])
def test_k_out_of_range(k: int):
    with pytest.raises(ValueError, match="between 1 and 100"):
        check_k(k)


@pytest.mark.parametrize("k", [2.5, "3", True])
def test_k_must_be_an_integer(k: object):
    with pytest.raises(TypeError):
        check_k(k)


def test_minmax_scales_to_unit_range_and_handles_constant_scores():
    np.testing.assert_allclose(minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    # No range to scale over: each score stands for itself, clipped to 0..1 (a lone passage
    # keeps its cosine; any BM25 match counts in full; no match stays 0).
    np.testing.assert_allclose(minmax(np.array([0.4, 0.4])), [0.4, 0.4])
    np.testing.assert_allclose(minmax(np.array([7.5])), [1.0])
    np.testing.assert_allclose(minmax(np.array([0.0, 0.0])), [0.0, 0.0])


def test_minmax_fusion_weights_each_signal():
    dense = np.array([0.9, 0.1, 0.5], dtype=np.float32)
    sentence = np.array([0.2, 0.2, 0.8], dtype=np.float32)
    lexical = np.array([0.0, 10.0, 5.0], dtype=np.float32)
    fused = fuse(dense, sentence, lexical, FusionConfig(dense_weight=0.25, sentence_weight=0.25))
    np.testing.assert_allclose(fused, [0.25, 0.5, 0.25 * 0.5 + 0.25 + 0.5 * 0.5])
    assert fuse(dense, sentence, lexical, FusionConfig(dense_weight=1.0, sentence_weight=0.0)).argmax() == 0
    assert fuse(dense, sentence, lexical, FusionConfig(dense_weight=0.0, sentence_weight=1.0)).argmax() == 2
    assert fuse(dense, sentence, lexical, FusionConfig(dense_weight=0.0, sentence_weight=0.0)).argmax() == 1


def test_rrf_rewards_agreement():
    dense = np.array([3.0, 2.0, 1.0])
    lexical = np.array([1.0, 3.0, 2.0])
    fused = fuse(dense, dense, lexical, FusionConfig(method="rrf", dense_weight=0.25, sentence_weight=0.25))
    # Row 1 is ranked 2nd and 1st; row 0 1st and 3rd; row 2 3rd and 2nd.
    assert list(np.argsort(-fused)) == [1, 0, 2]


def test_top_k_breaks_ties_by_row_deterministically():
    scores = np.array([0.5, 0.9, 0.5, 0.9, 0.1])
    assert list(top_k(scores, 3)) == [1, 3, 0]
    assert list(top_k(scores, 10)) == [1, 3, 0, 2, 4]


def test_bad_fusion_config_is_refused():
    with pytest.raises(ValueError):
        FusionConfig(method="sum")
    with pytest.raises(ValueError):
        FusionConfig(dense_weight=1.5)
    with pytest.raises(ValueError):
        FusionConfig(dense_weight=0.6, sentence_weight=0.6)


@pytest.mark.parametrize(
    "raw, expected",
    [("Kursk\x00?", "Kursk ?"), ("\ud800Kursk", "\ufffdKursk"), ("  tab\there \x7f ", "tab\there")],
)
def test_questions_are_normalised_before_the_tokenizer(raw: str, expected: str):
    assert check_question(raw) == expected


def test_a_question_of_control_characters_only_is_empty():
    with pytest.raises(ValueError, match="empty"):
        check_question("\x00\x01\x02")


def test_document_signal_moves_scores_towards_the_documents_best():
    from qa.index.retrieval import with_document_signal

    fused = np.array([0.9, 0.1, 0.4, 0.3])
    documents = np.array([1, 1, 2, 3])
    np.testing.assert_allclose(with_document_signal(fused, documents, 0.0), fused)
    np.testing.assert_allclose(with_document_signal(fused, documents, 0.5), [0.9, 0.5, 0.4, 0.3])
    np.testing.assert_allclose(with_document_signal(fused, documents, 1.0), [0.9, 0.9, 0.4, 0.3])
    with pytest.raises(ValueError, match="document_weight"):
        FusionConfig(document_weight=1.5)
