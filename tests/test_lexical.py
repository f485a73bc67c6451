"""qa/lexical.py: BM25 with stemming and stop words, saved and loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.lexical import BM25Config, LexicalIndex

TEXTS = ["The cats were sleeping on the mat.", "A dog barked at the postman.", "Markets fell sharply."]


def test_stemming_matches_word_forms():
    bm25 = LexicalIndex.build(TEXTS)
    scores = bm25.scores("barking dogs")
    assert scores.argmax() == 1 and scores[0] == 0 and scores[2] == 0


def test_stop_words_and_unknown_words_score_zero():
    bm25 = LexicalIndex.build(TEXTS)
    assert not bm25.scores("the of and").any()
    assert not bm25.scores("zebra xylophone").any()
    assert bm25.tokens("The Cats") == ("cat",)


def test_without_stemming_word_forms_do_not_match():
    bm25 = LexicalIndex.build(TEXTS, BM25Config(stemming=False))
    assert not bm25.scores("barking dogs").any()


def test_save_and_load_give_the_same_scores(tmp_path: Path):
    bm25 = LexicalIndex.build(TEXTS)
    bm25.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25", BM25Config(), len(TEXTS))
    np.testing.assert_array_equal(loaded.scores("markets fell"), bm25.scores("markets fell"))
